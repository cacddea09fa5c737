//! A problem in one knowledge file: where it is and how to fix it.

use std::path::{Path, PathBuf};

/// One problem found while loading or checking the knowledge files. Displayed as
/// `faq/fr/cout.md:3: <what is wrong and what to do>`, the form editors and CI logs link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct LoadError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl LoadError {
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> LoadError {
        LoadError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}
