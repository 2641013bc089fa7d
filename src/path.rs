//! Request paths: the one canonical form a request's path is matched, authorized, logged and
//! forwarded in. Percent-encoded unreserved characters are decoded, other escapes get
//! upper-case hex, dot segments are resolved (encoded ones too), repeated slashes merged, and
//! bytes outside the path grammar escaped; whatever a backend could read as a different path
//! (encoded `/` or `\`, a raw `\`, `;` parameters, control characters, broken or double
//! escapes) is refused. A path that is already canonical is returned borrowed: no allocation.

use std::borrow::Cow;

/// Path choices an operator can make (`paths:` in gateway.yaml). Both defaults are the strict
/// ones; neither choice makes a path ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathOptions {
    /// `//` becomes `/` (true) or is refused (false).
    pub merge_slashes: bool,
    /// Allow `;` in paths (matrix parameters) instead of refusing them.
    pub allow_semicolons: bool,
}

impl Default for PathOptions {
    fn default() -> Self {
        Self {
            merge_slashes: true,
            allow_semicolons: false,
        }
    }
}

/// Why a path was refused; [`PathError::reason`] is the stable code clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not a path starting with `/` (asterisk-form, authority-form, empty).
    NotOriginForm,
    /// `%2F` or `%5C`: a backend that decodes would see another path.
    EncodedSlash,
    /// A raw `\`, which some servers treat as `/`.
    Backslash,
    /// A NUL or other control character, raw or encoded.
    ControlCharacter,
    /// `%` not followed by two hex digits.
    BadPercentEncoding,
    /// An escaped `%` that forms another escape (`%252e`): decoded twice it is another path.
    DoubleEncoding,
    /// `;` (path parameters), when not allowed.
    Semicolon,
    /// `//`, when slashes are not merged.
    RepeatedSlash,
}

impl PathError {
    pub fn reason(self) -> &'static str {
        match self {
            PathError::NotOriginForm => "not_origin_form",
            PathError::EncodedSlash => "encoded_slash",
            PathError::Backslash => "backslash",
            PathError::ControlCharacter => "control_character",
            PathError::BadPercentEncoding => "bad_percent_encoding",
            PathError::DoubleEncoding => "double_encoding",
            PathError::Semicolon => "semicolon",
            PathError::RepeatedSlash => "repeated_slash",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            PathError::NotOriginForm => "the request target must be a path starting with /",
            PathError::EncodedSlash => "the path contains an encoded slash or backslash",
            PathError::Backslash => "the path contains a backslash",
            PathError::ControlCharacter => "the path contains a control character",
            PathError::BadPercentEncoding => "the path contains an invalid percent-encoding",
            PathError::DoubleEncoding => "the path contains a double percent-encoding",
            PathError::Semicolon => "the path contains a semicolon",
            PathError::RepeatedSlash => "the path contains repeated slashes",
        }
    }
}

/// RFC 3986 unreserved characters: an escape of one of these means the character itself.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes that stand for themselves in a canonical path (pchar and `/`, minus `%` and `;`).
fn is_plain(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'/' | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
                | b':'
                | b'@'
        )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The canonical form of `raw` (a path without its query), or why it has none.
pub fn canonicalize<'a>(raw: &'a [u8], opts: &PathOptions) -> Result<Cow<'a, str>, PathError> {
    if raw.first() != Some(&b'/') {
        return Err(PathError::NotOriginForm);
    }
    if is_canonical(raw, opts) {
        // Only plain ASCII bytes passed the check, so this cannot fail.
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| PathError::ControlCharacter);
    }
    let decoded = decode(raw, opts)?;
    let resolved = resolve_segments(&decoded, opts)?;
    if has_double_encoding(&resolved) {
        return Err(PathError::DoubleEncoding);
    }
    String::from_utf8(resolved)
        .map(Cow::Owned)
        .map_err(|_| PathError::ControlCharacter)
}

/// True when `raw` needs no change: plain bytes only, no empty, `.` or `..` segment.
fn is_canonical(raw: &[u8], opts: &PathOptions) -> bool {
    let mut seg_start = 1;
    for i in 1..=raw.len() {
        let at_end = i == raw.len();
        if at_end || raw[i] == b'/' {
            let seg = &raw[seg_start..i];
            let empty_inside = seg.is_empty() && !at_end;
            if empty_inside || seg == b"." || seg == b".." {
                return false;
            }
            seg_start = i + 1;
        } else if !(is_plain(raw[i]) || (opts.allow_semicolons && raw[i] == b';')) {
            return false;
        }
    }
    true
}

/// Decodes escapes of unreserved characters, upper-cases the others, escapes bytes outside
/// the path grammar, and refuses what would be ambiguous.
fn decode(raw: &[u8], opts: &PathOptions) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    raw.get(i + 1).copied().and_then(hex),
                    raw.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathError::BadPercentEncoding);
                };
                let v = h * 16 + l;
                match v {
                    b'/' | b'\\' => return Err(PathError::EncodedSlash),
                    0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                    b';' if !opts.allow_semicolons => return Err(PathError::Semicolon),
                    _ if is_unreserved(v) => out.push(v),
                    _ => out.extend_from_slice(&[
                        b'%',
                        HEX[(v >> 4) as usize],
                        HEX[(v & 15) as usize],
                    ]),
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            b';' if !opts.allow_semicolons => return Err(PathError::Semicolon),
            b';' => out.push(b),
            _ if is_plain(b) => out.push(b),
            _ => out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
        }
        i += 1;
    }
    Ok(out)
}

/// RFC 3986 5.2.4 on a decoded path: `.` segments go, `..` removes the segment before it (never
/// above the root), empty segments are merged or refused. A trailing `/`, `.` or `..` leaves a
/// trailing slash.
fn resolve_segments(path: &[u8], opts: &PathOptions) -> Result<Vec<u8>, PathError> {
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    let mut starts: Vec<usize> = Vec::new();
    let mut trailing_slash = false;
    let body = &path[1..];
    let count = body.split(|&b| b == b'/').count();
    for (n, seg) in body.split(|&b| b == b'/').enumerate() {
        let last = n + 1 == count;
        trailing_slash = false;
        match seg {
            b"" if last => trailing_slash = true,
            b"" if !opts.merge_slashes => return Err(PathError::RepeatedSlash),
            b"" => {}
            b"." => trailing_slash = last,
            b".." => {
                if let Some(start) = starts.pop() {
                    out.truncate(start);
                }
                trailing_slash = last;
            }
            _ => {
                starts.push(out.len());
                out.push(b'/');
                out.extend_from_slice(seg);
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push(b'/');
    }
    Ok(out)
}

/// `%25` followed by two hex digits: decoding once gives an escape, decoding twice another path.
fn has_double_encoding(path: &[u8]) -> bool {
    path.windows(5).any(|w| {
        w[0] == b'%' && w[1] == b'2' && w[2] == b'5' && hex(w[3]).is_some() && hex(w[4]).is_some()
    })
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
