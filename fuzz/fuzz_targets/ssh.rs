#![no_main]
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::ssh;

fuzz_target!(|data: &[u8]| {
    let _ = ssh::probe(data);
    let _ = ssh::parse_banner(data);
    if let Some(k) = ssh::parse_kexinit(data).done() {
        let _ = k.hassh();
        let _ = k.hassh_server();
    }
});
