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
