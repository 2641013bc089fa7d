//! Generates a throwaway CA and `count` stored ACME-style certificates for benchmarks.
//!
//! ```text
//! cargo run --release --example gen_certs -- <certs_dir> <count> [<base domain>]
//! ```
//!
//! Makes a CA (ECDSA P-256, written to `<certs_dir>/bench-ca.pem`) and, for `i` in
//! `0..count`, a leaf for `t<i>.<base domain>` (default base `bench.test`) with its own P-256
//! key, valid for 60 days from one day ago, laid out as the gateway's file storage keeps
//! certificates: `<certs_dir>/acme/<host>/fullchain.pem` (leaf, then the CA certificate),
//! `privkey.pem` (PKCS#8 PEM, mode 0600) and `meta.json` (names, validity in Unix seconds,
//! issuer as the gateway renders it). Host directories are mode 0700, like the gateway's.
//! The work is split over a few threads (`GEN_THREADS`, default: the number of CPUs).

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CA_CN: &str = "tenant-gateway bench CA";
const DAY: u64 = 86_400;

fn usage() -> ! {
    eprintln!("usage: gen_certs <certs_dir> <count> [<base domain>]");
    std::process::exit(2)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        usage();
    }
    let certs_dir = PathBuf::from(&args[0]);
    let count: usize = args[1].parse().unwrap_or_else(|_| usage());
    let base = args.get(2).map_or("bench.test", String::as_str).to_string();
    let threads = std::env::var("GEN_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .clamp(1, 64);

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let not_before = now - DAY;
    let not_after = not_before + 60 * DAY;
    let epoch = date_time_ymd(1970, 1, 1);

    // The CA: valid a little longer than its leaves.
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_CN);
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = epoch + Duration::from_secs(not_before - DAY);
    ca_params.not_after = epoch + Duration::from_secs(not_after + DAY);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);
    // The leaves' common part; meta.json's fields after `names` (the issuer as x509-parser
    // renders it, which is what the gateway records).
    let mut template = CertificateParams::new(Vec::<String>::new())?;
    template.not_before = epoch + Duration::from_secs(not_before);
    template.not_after = epoch + Duration::from_secs(not_after);
    template.use_authority_key_identifier_extension = true;
    template.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    template.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let meta_tail = serde_json::json!({
        "not_before": not_before,
        "not_after": not_after,
        "issuer": format!("CN={CA_CN}"),
    })
    .to_string();
    let meta_tail = meta_tail[1..meta_tail.len() - 1].to_string();

    let acme = certs_dir.join("acme");
    std::fs::create_dir_all(&acme)?;
    write_file(&certs_dir.join("bench-ca.pem"), ca_pem.as_bytes(), 0o644)?;

    let started = Instant::now();
    let issuer = &issuer;
    let (ca_pem, template, meta_tail, acme, base) = (&ca_pem, &template, &meta_tail, &acme, &base);
    std::thread::scope(|s| -> Result<(), String> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> Result<(), String> {
                    let mut i = t;
                    while i < count {
                        let host = format!("t{i}.{base}");
                        gen_one(&host, acme, issuer, template, ca_pem, meta_tail)
                            .map_err(|e| format!("{host}: {e}"))?;
                        if t == 0 && i % (threads * 10_000) == 0 && i > 0 {
                            eprintln!("gen_certs: {i}/{count} ({:.1?})", started.elapsed());
                        }
                        i += threads;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a worker panicked".to_string())??;
        }
        Ok(())
    })?;
    eprintln!(
        "gen_certs: {count} certificates for t<i>.{base} in {} ({threads} threads, {:.1?})",
        acme.display(),
        started.elapsed()
    );
    Ok(())
}

/// One host: its key, its leaf (the template with this host's name), the three files.
fn gen_one(
    host: &str,
    acme: &Path,
    issuer: &Issuer<'_, KeyPair>,
    template: &CertificateParams,
    ca_pem: &str,
    meta_tail: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let key = KeyPair::generate()?;
    let mut params = template.clone();
    params.subject_alt_names = vec![SanType::DnsName(host.to_string().try_into()?)];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, host);
    params.distinguished_name = dn;
    let leaf = params.signed_by(&key, issuer)?;
    let dir = acme.join(host);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    write_file(
        &dir.join("privkey.pem"),
        key.serialize_pem().as_bytes(),
        0o600,
    )?;
    let mut chain = leaf.pem();
    chain.push_str(ca_pem);
    write_file(&dir.join("fullchain.pem"), chain.as_bytes(), 0o644)?;
    let meta = format!("{{\"names\":[\"{host}\"],{meta_tail}}}");
    write_file(&dir.join("meta.json"), meta.as_bytes(), 0o644)?;
    Ok(())
}
