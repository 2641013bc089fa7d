//! Parsing and writing a large tenants file. A YAML parser collects every event of a document before
//! deserialising it: for 100,000 tenants that is one vector of tens of millions of events,
//! grown by copying, and a gigabyte of memory. A tenants file is almost always one
//! `tenants:` key over a block sequence, so a large one is cut at its items' starting lines
//! into a few pieces, each a small sequence parsed on its own thread. Anything the cutter is
//! not sure of (other top-level keys, flow style, tabs, document markers, aliases that cross
//! pieces, any error) is parsed whole, exactly as before, with the same messages. Writing
//! emits pieces of the list on a few threads and joins them: the same bytes as one emit.

use super::error::ConfigError;
use super::file::{TenantFile, TenantsFile};
use super::record_text::RecordText;
use std::path::Path;

/// Files smaller than this are parsed whole (cutting would not pay).
const CUT_ABOVE_BYTES: usize = 1 << 20;
/// About how large a piece is: small enough that its event vector stays small (growing a
/// large one is mostly copying and page faults), large enough to be cheap to start.
const PIECE_BYTES: usize = 128 * 1024;

/// The tenants of `text` (read from `path`).
pub fn parse_tenants(path: &Path, text: &str) -> Result<TenantsFile, ConfigError> {
    if text.len() > CUT_ABOVE_BYTES {
        if let Some(tenants) = parse_in_pieces(text) {
            return Ok(TenantsFile { tenants });
        }
    }
    super::parse(path, text)
}

/// The tenants of `text` cut into pieces whatever its size; `None` when it cannot be cut or a
/// piece fails (the fuzz target compares this with a whole parse).
pub(crate) fn parse_in_pieces(text: &str) -> Option<Vec<TenantFile>> {
    let starts = cut(text)?;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let pieces = pieces(text, &starts, (text.len() / PIECE_BYTES).max(threads));
    let per_thread = pieces.len().div_ceil(threads).max(1);
    let parsed: Vec<Option<Vec<Vec<TenantFile>>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = pieces
            .chunks(per_thread)
            .map(|mine| {
                scope.spawn(move || {
                    mine.iter()
                        .map(|p| serde_norway::from_str::<Vec<TenantFile>>(p).ok())
                        .collect::<Option<Vec<_>>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().ok().flatten())
            .collect()
    });
    let mut tenants = Vec::with_capacity(starts.len());
    for part in parsed {
        tenants.extend(part?.into_iter().flatten());
    }
    // Every item cut out must come back as one tenant (a piece can never swallow or split one).
    (tenants.len() == starts.len()).then_some(tenants)
}

/// The byte offsets where the items of the top-level `tenants:` block sequence start, or
/// `None` when the file is not simply that list: each item's text (up to the next item)
/// parses alone as it does in the whole file, unless items share anchors.
pub(crate) fn cut(text: &str) -> Option<Vec<usize>> {
    let starts = item_starts(text)?;
    // What comes before the first item (comments, the `tenants:` line) goes through the
    // parser too, so that it refuses there whatever it would refuse in a whole parse.
    let head: serde_norway::Value = serde_norway::from_str(&text[..starts[0]]).ok()?;
    let only_key = head.as_mapping().is_some_and(|m| {
        m.len() == 1 && m.get("tenants").is_some_and(serde_norway::Value::is_null)
    });
    only_key.then_some(starts)
}

fn item_starts(text: &str) -> Option<Vec<usize>> {
    let mut offset = 0;
    let mut seen_key = false;
    let mut indent: Option<usize> = None;
    let mut starts = Vec::new();
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        // A line indented deeper than the items belongs to the current item, whatever it
        // says: decided by its first bytes (most lines of a large file are such lines).
        let deeper = |n: usize| {
            line.as_bytes()
                .get(..=n)
                .is_some_and(|b| b.iter().all(|&c| c == b' '))
        };
        if indent.is_some_and(deeper) {
            continue;
        }
        let body = line.trim_end_matches(['\n', '\r']);
        if body.starts_with('\t') || body.starts_with("---") || body.starts_with("...") {
            return None;
        }
        let content = body.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let col = body.len() - content.len();
        if !seen_key {
            // The one top-level key, with nothing after it on its line.
            let rest = content.strip_prefix("tenants:")?;
            if col != 0 || !(rest.trim().is_empty() || rest.trim_start().starts_with('#')) {
                return None;
            }
            seen_key = true;
            continue;
        }
        let is_item = content == "-" || content.starts_with("- ");
        match indent {
            None if is_item => indent = Some(col),
            None => return None,
            Some(n) if col == n && is_item => {}
            // Deeper lines belong to the current item.
            Some(n) if col > n => continue,
            // Back out of the sequence: another top-level key, or something unexpected.
            Some(_) => return None,
        }
        starts.push(at);
    }
    (!starts.is_empty()).then_some(starts)
}

/// `text` cut at item starts into at most `want` pieces of about equal item counts.
fn pieces<'a>(text: &'a str, starts: &[usize], want: usize) -> Vec<&'a str> {
    let per_piece = starts.len().div_ceil(want.max(1)).max(1);
    let mut out = Vec::new();
    let mut i = 0;
    while i < starts.len() {
        let end = starts.get(i + per_piece).copied().unwrap_or(text.len());
        out.push(&text[starts[i]..end]);
        i += per_piece;
    }
    out
}

/// Tenants at or below which the file is emitted in one piece.
const EMIT_WHOLE_UP_TO: usize = 2_000;

/// A tenants file with the records `tenants` as YAML, byte for byte what
/// `serde_norway::to_string` of a [`TenantsFile`] gives: a large list is emitted in pieces on a
/// few threads (each piece is a top-level sequence, which the emitter writes at column 0, as
/// it writes the list under `tenants:`).
pub fn tenants_yaml<T: serde::Serialize + Sync>(
    tenants: &[T],
) -> Result<String, serde_norway::Error> {
    if tenants.len() <= EMIT_WHOLE_UP_TO {
        #[derive(serde::Serialize)]
        struct Listed<'a, T> {
            tenants: &'a [T],
        }
        return serde_norway::to_string(&Listed { tenants });
    }
    emit_in_pieces(tenants, tenants.len().div_ceil(writer_threads()))
}

/// How many threads write YAML.
fn writer_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}

/// `emit` of each `per`-sized chunk of `items`, each chunk on its own thread, in order.
fn on_threads<T: Sync, R: Send>(
    items: &[T],
    per: usize,
    emit: impl Fn(&[T]) -> Result<R, serde_norway::Error> + Sync,
) -> Result<Vec<R>, serde_norway::Error> {
    let emit = &emit;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(per.max(1))
            .map(|mine| scope.spawn(move || emit(mine)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(serde::ser::Error::custom("a YAML writer thread panicked"))
                })
            })
            .collect()
    })
}

/// Each record's own text in a tenants file (a one-item top-level sequence, `- id: ...`),
/// emitted on a few threads: [`join_record_texts`] makes the file of them.
pub fn record_texts<T: serde::Serialize + Sync>(
    tenants: &[T],
) -> Result<Vec<RecordText>, serde_norway::Error> {
    let per = tenants.len().div_ceil(writer_threads());
    let pieces = on_threads(tenants, per, |mine| {
        mine.iter().map(record_text).collect::<Result<Vec<_>, _>>()
    })?;
    Ok(pieces.into_iter().flatten().collect())
}

/// One record's text in a tenants file.
pub fn record_text<T: serde::Serialize>(t: &T) -> Result<RecordText, serde_norway::Error> {
    serde_norway::to_string(std::slice::from_ref(t)).map(Into::into)
}

/// The tenants file of the records whose texts are `texts`: byte for byte what
/// [`tenants_yaml`] gives for them.
pub fn join_record_texts(texts: &[RecordText]) -> String {
    let len = texts.iter().map(|t| t.len()).sum::<usize>();
    let mut out = Vec::with_capacity("tenants:\n".len() + len);
    write_record_texts(&mut out, texts).expect("writing to memory");
    String::from_utf8(out).expect("the texts are UTF-8")
}

/// Writes the tenants file of `texts` (what [`join_record_texts`] gives) to `out`, text by
/// text.
pub fn write_record_texts(
    out: &mut impl std::io::Write,
    texts: &[RecordText],
) -> std::io::Result<()> {
    if texts.is_empty() {
        return out.write_all(b"tenants: []\n");
    }
    out.write_all(b"tenants:\n")?;
    // Up to the system's limit of slices per write (`IOV_MAX`), none copied.
    let mut slices = Vec::with_capacity(1024);
    for batch in texts.chunks(1024) {
        slices.clear();
        slices.extend(batch.iter().map(|t| std::io::IoSlice::new(t.as_bytes())));
        write_all_vectored(out, &slices)?;
    }
    Ok(())
}

/// Writes all of `bufs`, however little each vectored write takes.
pub fn write_all_vectored(
    out: &mut impl std::io::Write,
    bufs: &[std::io::IoSlice<'_>],
) -> std::io::Result<()> {
    let mut at = 0; // the first slice not wholly written
    let mut skip = 0; // bytes of it already written
    while at < bufs.len() {
        let written = if skip == 0 {
            out.write_vectored(&bufs[at..])
        } else {
            // The rest of a slice a write ended inside.
            out.write(&bufs[at][skip..])
        };
        let mut n = match written {
            Ok(0) if bufs[at..].iter().any(|b| !b.is_empty()) => {
                return Err(std::io::ErrorKind::WriteZero.into())
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while at < bufs.len() && n >= bufs[at].len() - skip {
            n -= bufs[at].len() - skip;
            (at, skip) = (at + 1, 0);
        }
        skip += n;
    }
    Ok(())
}

/// A non-empty list emitted `per_piece` tenants at a time, each piece on its own thread.
pub(crate) fn emit_in_pieces<T: serde::Serialize + Sync>(
    tenants: &[T],
    per_piece: usize,
) -> Result<String, serde_norway::Error> {
    let pieces = on_threads(tenants, per_piece, serde_norway::to_string)?;
    let mut out = String::from("tenants:\n");
    for p in pieces {
        out.push_str(&p);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tenants_parse_tests.rs"]
mod tests;
