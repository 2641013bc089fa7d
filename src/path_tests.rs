use super::*;

fn canon(raw: &str) -> Result<String, PathError> {
    canonicalize(raw.as_bytes(), &PathOptions::default()).map(|c| c.into_owned())
}

#[test]
fn canonical_paths_are_borrowed() {
    for p in [
        "/",
        "/api",
        "/api/x",
        "/a-b_c.d~e/f:g@h!$&'()*+,=",
        "/api/",
        "/.well-known/x",
    ] {
        let c = canonicalize(p.as_bytes(), &PathOptions::default()).unwrap();
        assert!(matches!(c, Cow::Borrowed(_)), "{p}");
        assert_eq!(c, p);
    }
}

#[test]
fn spellings_of_a_protected_path_become_it() {
    for p in [
        "//api/x",
        "/./api/x",
        "/x/../api/x",
        "/%61pi/x",
        "/%61%70%69/x",
        "/%2e%2e/api/x",
        "/%2E/api/x",
        "/../../api/x",
        "/api/./x",
        "/api//x",
        "///api///x",
        "/a/b/../../api/x",
        "/api/y/%2e%2e/x",
        "/.%2e/api/x",
    ] {
        assert_eq!(canon(p).as_deref(), Ok("/api/x"), "{p}");
    }
}

#[test]
fn trailing_dots_and_slashes() {
    assert_eq!(canon("/a/b/..").as_deref(), Ok("/a/"));
    assert_eq!(canon("/a/.").as_deref(), Ok("/a/"));
    assert_eq!(canon("/a/").as_deref(), Ok("/a/"));
    assert_eq!(canon("/..").as_deref(), Ok("/"));
    assert_eq!(canon("/.").as_deref(), Ok("/"));
    assert_eq!(canon("//").as_deref(), Ok("/"));
    assert_eq!(canon("/a//").as_deref(), Ok("/a/"));
}

#[test]
fn other_escapes_are_kept_in_upper_case() {
    assert_eq!(canon("/caf%c3%a9").as_deref(), Ok("/caf%C3%A9"));
    assert_eq!(canon("/a%20b").as_deref(), Ok("/a%20b"));
    assert_eq!(canon("/a%3fb").as_deref(), Ok("/a%3Fb"));
    assert_eq!(canon("/100%25").as_deref(), Ok("/100%25"));
}

#[test]
fn bytes_outside_the_grammar_are_escaped() {
    let c = canonicalize("/a\"b<c>{d}|^`é#".as_bytes(), &PathOptions::default()).unwrap();
    assert_eq!(c, "/a%22b%3Cc%3E%7Bd%7D%7C%5E%60%C3%A9%23");
}

#[test]
fn ambiguous_paths_are_refused() {
    let cases = [
        ("/api%2fx", PathError::EncodedSlash),
        ("/api%2Fx", PathError::EncodedSlash),
        ("/api%5cx", PathError::EncodedSlash),
        ("/api\\x", PathError::Backslash),
        ("/api;x", PathError::Semicolon),
        ("/api;jsessionid=1/x", PathError::Semicolon),
        ("/api%3bx", PathError::Semicolon),
        ("/api/%00", PathError::ControlCharacter),
        ("/api/%0a", PathError::ControlCharacter),
        ("/api/%7f", PathError::ControlCharacter),
        ("/api/\x01", PathError::ControlCharacter),
        ("/%zz", PathError::BadPercentEncoding),
        ("/%4", PathError::BadPercentEncoding),
        ("/a%", PathError::BadPercentEncoding),
        ("/%252e%252e/api", PathError::DoubleEncoding),
        ("/%25%34%31", PathError::DoubleEncoding),
        ("/%2541", PathError::DoubleEncoding),
        ("*", PathError::NotOriginForm),
        ("", PathError::NotOriginForm),
        ("api/x", PathError::NotOriginForm),
    ];
    for (p, want) in cases {
        assert_eq!(canon(p), Err(want), "{p:?}");
    }
}

#[test]
fn options() {
    let strict = PathOptions {
        merge_slashes: false,
        allow_semicolons: false,
    };
    assert_eq!(
        canonicalize(b"//api", &strict).map(|c| c.into_owned()),
        Err(PathError::RepeatedSlash)
    );
    assert_eq!(canonicalize(b"/api/", &strict).unwrap(), "/api/");
    let matrix = PathOptions {
        merge_slashes: true,
        allow_semicolons: true,
    };
    assert_eq!(canonicalize(b"/a;b=c/d", &matrix).unwrap(), "/a;b=c/d");
    assert_eq!(canonicalize(b"/a%3bb", &matrix).unwrap(), "/a%3Bb");
}

#[test]
fn canonical_form_is_idempotent() {
    for p in [
        "/caf%c3%a9/../x",
        "//a/./b/%2e%2e/c%20d/",
        "/a\"b",
        "/%7e%41",
        "/~A",
    ] {
        let once = canon(p).unwrap();
        assert_eq!(canon(&once).as_deref(), Ok(once.as_str()), "{p}");
    }
}
