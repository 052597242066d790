//! Countries and autonomous systems from MaxMind-format databases (GeoLite2/GeoIP2 Country,
//! City, ASN), read with the `maxminddb` crate when the user names the files. Optional:
//! without them alerts carry addresses and networks only.

use maxminddb::{geoip2, Reader};
use std::net::IpAddr;
use std::path::Path;

#[derive(Default)]
pub struct Geo {
    country: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

fn open(p: &Path, what: &str) -> Result<Reader<Vec<u8>>, String> {
    Reader::open_readfile(p)
        .map_err(|e| format!("{}: cannot read {what} database: {e}", p.display()))
}

impl Geo {
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Geo, String> {
        Ok(Geo {
            country: country.map(|p| open(p, "MaxMind country")).transpose()?,
            asn: asn.map(|p| open(p, "MaxMind ASN")).transpose()?,
        })
    }

    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.country.is_none() && self.asn.is_none()
    }

    /// ISO 3166-1 alpha-2 code of the country the address is placed in.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let r = self.country.as_ref()?;
        let c: geoip2::Country = r.lookup(ip).ok()?.decode().ok()??;
        c.country.iso_code.map(str::to_string)
    }

    /// Latitude and longitude of the address, when the country database is a City
    /// database (a Country database has no coordinates).
    pub fn location(&self, ip: IpAddr) -> Option<(f64, f64)> {
        let r = self.country.as_ref()?;
        let c: geoip2::City = r.lookup(ip).ok()?.decode().ok()??;
        Some((c.location.latitude?, c.location.longitude?))
    }

    /// Autonomous system number and organisation.
    pub fn asn(&self, ip: IpAddr) -> Option<(u32, String)> {
        let r = self.asn.as_ref()?;
        let a: geoip2::Asn = r.lookup(ip).ok()?.decode().ok()??;
        Some((
            a.autonomous_system_number?,
            a.autonomous_system_organization.unwrap_or("").to_string(),
        ))
    }
}
