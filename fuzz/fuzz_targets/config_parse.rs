//! The configuration parser: `gateway.yaml` and tenant-file text as `config::load` parses it
//! (serde_norway, plus the tenant hint added to errors), without validation or file access.
//!
//! Properties: nothing panics; a parse error names the file and says something; a tenant file
//! that parses, written back the way the admin API writes it (`serde_norway::to_string`),
//! parses again to the same records; the cut parse that large files get agrees with the whole
//! parse whenever it gives an answer (it never accepts what the whole parse refuses), and the
//! list written in pieces is byte for byte the list written at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tenant_gateway::config::ConfigError;
use tenant_gateway::fuzzing::{
    parse_gateway, parse_tenants, parse_tenants_in_pieces, tenants_yaml_in_pieces,
};

fn check_error(e: &ConfigError, path: &Path) {
    match e {
        ConfigError::Parse { path: p, message } => {
            assert_eq!(p, path, "error names another file");
            assert!(!message.is_empty(), "empty parse error");
        }
        other => panic!("parsing text gave a non-parse error: {other}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let gateway = Path::new("conf/gateway.yaml");
    if let Err(e) = parse_gateway(gateway, text) {
        check_error(&e, gateway);
    }
    let tenants = Path::new("conf/tenants.yaml");
    let whole = parse_tenants(tenants, text);
    if let Some(cut) = parse_tenants_in_pieces(text) {
        match &whole {
            Ok(w) => assert_eq!(cut, w.tenants, "cut and whole parses differ"),
            Err(e) => panic!("the cut parse accepted what the whole parse refuses: {e}"),
        }
    }
    match whole {
        Ok(parsed) => {
            if !parsed.tenants.is_empty() {
                let joined = tenants_yaml_in_pieces(&parsed.tenants).expect("pieces serialise");
                let once = serde_norway::to_string(&parsed).expect("records serialise");
                assert_eq!(joined, once, "pieces written differently");
            }
            let written = serde_norway::to_string(&parsed).expect("records serialise");
            match parse_tenants(tenants, &written) {
                Ok(again) => assert_eq!(again.tenants, parsed.tenants, "written:\n{written}"),
                Err(e) => panic!("written tenants do not parse: {e}\nwritten:\n{written}"),
            }
        }
        Err(e) => check_error(&e, tenants),
    }
});
