//! One record's text in a tenants file: emitted on its own, or a piece of the file it was
//! read from, shared with the other records' pieces rather than copied out of it.

use std::ops::Range;
use std::sync::Arc;

/// A record's text (`- id: ...`, through the end of its last line).
#[derive(Clone, Debug)]
pub struct RecordText {
    text: Arc<String>,
    range: Range<usize>,
}

impl RecordText {
    /// The piece `range` of `file`; `None` unless `range` lies in it at character boundaries.
    pub fn piece(file: &Arc<String>, range: Range<usize>) -> Option<Self> {
        file.get(range.clone()).map(|_| RecordText {
            text: file.clone(),
            range,
        })
    }
}

impl RecordText {
    /// The text's bytes. Unlike the `str` it derefs to, taking them reads none of the text:
    /// writing 100,000 pieces of a large file then touches no byte of it before the write.
    pub fn as_bytes(&self) -> &[u8] {
        self.text
            .as_bytes()
            .get(self.range.clone())
            .unwrap_or_default()
    }

    /// The text's length in bytes (read from the range alone, like [`Self::as_bytes`]).
    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

impl From<String> for RecordText {
    fn from(text: String) -> Self {
        let range = 0..text.len();
        RecordText {
            text: Arc::new(text),
            range,
        }
    }
}

impl std::ops::Deref for RecordText {
    type Target = str;

    fn deref(&self) -> &str {
        // Checked when made: a piece lies at character boundaries of its text.
        self.text.get(self.range.clone()).unwrap_or_default()
    }
}

impl PartialEq for RecordText {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for RecordText {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_length_are_the_texts() {
        let file = Arc::new("tenants:\n- id: é\n- id: b\n".to_string());
        let piece = RecordText::piece(&file, 9..18).unwrap();
        assert_eq!(&*piece, "- id: é\n");
        assert_eq!(piece.as_bytes(), "- id: é\n".as_bytes());
        assert_eq!((piece.len(), piece.is_empty()), (9, false));
        assert!(
            RecordText::piece(&file, 9..16).is_none(),
            "inside a character"
        );
        let own = RecordText::from("- id: b\n".to_string());
        assert_eq!((own.as_bytes(), own.len()), (b"- id: b\n".as_slice(), 8));
    }
}
