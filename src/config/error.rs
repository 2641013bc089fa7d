//! Configuration errors. Each one names the file and, where it applies, the tenant and the
//! field, so an operator can fix a rejected change without guessing.

use std::fmt;
use std::path::PathBuf;

/// One problem found while validating a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub file: PathBuf,
    /// `name (id)` of the tenant the problem belongs to, if any.
    pub tenant: Option<String>,
    /// Dotted path of the offending field, e.g. `pools.shared.backends[1]`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(t) = &self.tenant {
            write!(f, "tenant {t}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}", list(.0))]
    Invalid(Vec<Issue>),
}

fn list(issues: &[Issue]) -> String {
    let mut out = format!("{} configuration error(s):", issues.len());
    for i in issues {
        out.push_str("\n  - ");
        out.push_str(&i.to_string());
    }
    out
}

impl ConfigError {
    /// The individual issues, for JSON error bodies (admin API) and tests.
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            ConfigError::Invalid(v) => v.clone(),
            ConfigError::Read { path, source } => vec![Issue {
                file: path.clone(),
                tenant: None,
                field: String::new(),
                message: format!("cannot read: {source}"),
            }],
            ConfigError::Parse { path, message } => vec![Issue {
                file: path.clone(),
                tenant: None,
                field: String::new(),
                message: message.clone(),
            }],
        }
    }
}
