//! Unit tests of `tenants_parse`: the pieces give what a whole parse gives, or are not used.

use super::*;

fn tenant(i: usize, indent: &str) -> String {
    format!(
        "{indent}- id: 00000000-0000-4000-8000-{i:012}\n\
         {indent}  name: \"Tenant {i}\"\n\
         {indent}  subdomain: t{i}\n\
         {indent}  # a comment inside an item\n\
         {indent}  custom_domains:\n\
         {indent}    - www.t{i}.test\n\
         {indent}  routes:\n\
         {indent}    - prefix: /\n\
         {indent}      pool: web\n\
         {indent}      auth: none\n\n"
    )
}

fn file(n: usize, indent: &str) -> String {
    let mut s = String::from("# tenants\n\ntenants:   # all of them\n");
    for i in 0..n {
        s.push_str(&tenant(i, indent));
    }
    s.push_str("# the end\n");
    s
}

fn whole(text: &str) -> Vec<TenantFile> {
    serde_norway::from_str::<TenantsFile>(text).unwrap().tenants
}

#[test]
fn pieces_give_what_a_whole_parse_gives() {
    for indent in ["", "  "] {
        let text = file(5_000, indent);
        assert!(text.len() > CUT_ABOVE_BYTES, "{}", text.len());
        let cut = parse_in_pieces(&text).expect("cut into pieces");
        assert_eq!(cut, whole(&text));
        assert_eq!(cut.len(), 5_000);
        let parsed = parse_tenants(Path::new("t.yaml"), &text).unwrap();
        assert_eq!(parsed.tenants, cut);
    }
}

#[test]
fn anything_else_is_parsed_whole() {
    let base = file(3, "");
    for not_simple in [
        // Another top-level key after the sequence (an unknown field: the whole parse says so).
        format!("{base}other: 1\n"),
        // Flow style, document markers, tabs.
        "tenants: [{id: a, name: A, subdomain: a}]\n".to_string(),
        format!("---\n{base}"),
        format!("{base}...\n"),
        base.replace("  name:", "\tname:"),
        // No `tenants:` key first.
        format!("other: 1\n{base}"),
    ] {
        assert!(item_starts(&not_simple).is_none(), "{not_simple}");
    }
    // An alias to an anchor in an earlier piece cannot be cut: the whole parse resolves it.
    let mut text = String::from("tenants:\n");
    text.push_str("  - id: a\n    name: A\n    subdomain: a\n    custom_domains: &d [x.test]\n");
    for i in 0..3 {
        text.push_str(&tenant(i, "  "));
    }
    text.push_str("  - id: b\n    name: B\n    subdomain: b\n    custom_domains: *d\n");
    let starts = item_starts(&text).unwrap();
    let pieces = pieces(&text, &starts, 5);
    assert!(serde_norway::from_str::<Vec<TenantFile>>(pieces[pieces.len() - 1]).is_err());
}

#[test]
fn a_large_file_with_an_error_reports_it_as_a_whole_parse_would() {
    let mut text = file(5_000, "");
    text = text.replacen(
        "  subdomain: t4321\n",
        "  subdomain: t4321\n  colour: red\n",
        1,
    );
    let cut = parse_tenants(Path::new("t.yaml"), &text).unwrap_err();
    let whole = super::super::parse::<TenantsFile>(Path::new("t.yaml"), &text).unwrap_err();
    assert_eq!(cut.to_string(), whole.to_string());
    assert!(cut.to_string().contains("tenants[4321]"), "{cut}");
    assert!(cut.to_string().contains("Tenant 4321"), "{cut}");
}

#[test]
fn pieces_are_written_as_one_emit_would() {
    for n in [0, 3, 5_000] {
        let file = TenantsFile {
            tenants: if n == 0 {
                Vec::new()
            } else {
                whole(&file(n, ""))
            },
        };
        let joined = tenants_yaml(&file.tenants).unwrap();
        let texts = record_texts(&file.tenants).unwrap();
        assert_eq!(texts.len(), n);
        assert_eq!(
            join_record_texts(&texts),
            joined,
            "record by record, {n} tenants"
        );
        assert_eq!(
            joined,
            serde_norway::to_string(&file).unwrap(),
            "{n} tenants"
        );
        assert_eq!(whole(&joined), file.tenants);
    }
}

#[test]
fn what_precedes_the_items_is_parsed_too() {
    // A control character in a leading comment: the whole parse refuses the file, so the
    // pieces (which do not contain that comment) must not accept it (found by fuzzing).
    let text = format!("# bad \u{1} comment\n{}", file(3, ""));
    assert!(serde_norway::from_str::<TenantsFile>(&text).is_err());
    assert!(parse_in_pieces(&text).is_none());
    assert!(parse_in_pieces(&file(3, "")).is_some());
}

#[test]
fn vectored_writes_that_end_inside_a_slice_write_it_all() {
    use std::io::{IoSlice, Write};
    /// Takes at most 2,500 bytes per vectored write, ending inside a slice.
    struct Trickle(Vec<u8>);
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let mut left = 2_500usize;
            let mut n = 0;
            for buf in bufs {
                let take = left.min(buf.len());
                self.0.extend_from_slice(&buf[..take]);
                (left, n) = (left - take, n + take);
                if left == 0 {
                    break;
                }
            }
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let bytes: Vec<u8> = (0..100_123).map(|i| (i * 7 % 251) as u8).collect();
    let slices: Vec<IoSlice> = bytes.chunks(1000).map(IoSlice::new).collect();
    let mut out = Trickle(Vec::new());
    write_all_vectored(&mut out, &slices).unwrap();
    assert_eq!(out.0, bytes);
}
