pub mod capture;
pub mod decode;
pub mod proto;
pub mod rules;
