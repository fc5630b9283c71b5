//! Plan documents kept in a configured directory (`[planning] documents_dir`) rather than in
//! the database: [`DocumentsDir`] turns a file under the directory into the relative path
//! stored with the document ([`DocumentsDir::relative`]) and reads it back
//! ([`DocumentsDir::read`]), refusing any path that is absolute, climbs with `..`, or resolves
//! (through links) to a file outside the directory.

use std::path::{Component, Path, PathBuf};

/// Errors of the documents directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The configured directory is not a readable directory.
    #[error("the plan documents directory {path} is not a directory: {reason}")]
    NotADirectory {
        /// As configured.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file (or a stored path) lies outside the directory.
    #[error("{path} is not inside the plan documents directory {root}")]
    Outside {
        /// The file or stored path.
        path: String,
        /// The directory.
        root: PathBuf,
    },
    /// The stored file is missing.
    #[error("the document's file {0} is missing from the plan documents directory")]
    Missing(String),
    /// Reading failed.
    #[error("reading the document's file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The configured documents directory, resolved once (links followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentsDir {
    root: PathBuf,
}

impl DocumentsDir {
    /// Opens `path`, which must be an existing directory.
    pub fn open(path: &Path) -> Result<Self, DocumentError> {
        let bad = |reason: String| DocumentError::NotADirectory {
            path: path.to_path_buf(),
            reason,
        };
        let root = path.canonicalize().map_err(|e| bad(e.to_string()))?;
        if !root.is_dir() {
            return Err(bad("not a directory".into()));
        }
        Ok(DocumentsDir { root })
    }

    /// The directory (resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `file` relative to the directory, with `/` separators, as stored; refused
    /// when the file (links resolved) is not inside it.
    pub fn relative(&self, file: &Path) -> Result<String, DocumentError> {
        let outside = || DocumentError::Outside {
            path: file.display().to_string(),
            root: self.root.clone(),
        };
        let resolved = file.canonicalize().map_err(|source| DocumentError::Io {
            path: file.display().to_string(),
            source,
        })?;
        let rel = resolved.strip_prefix(&self.root).map_err(|_| outside())?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| match c {
                Component::Normal(s) => s.to_str().map(str::to_string).ok_or_else(outside),
                _ => Err(outside()),
            })
            .collect::<Result<_, _>>()?;
        if parts.is_empty() || parts.iter().any(|p| p.contains('\\')) {
            return Err(outside());
        }
        Ok(parts.join("/"))
    }

    /// The bytes of the stored relative path `rel`; refused when it is absolute, has `..` or
    /// resolves outside the directory (a link pointing out of it).
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, DocumentError> {
        let outside = || DocumentError::Outside {
            path: rel.to_string(),
            root: self.root.clone(),
        };
        let path = Path::new(rel);
        if rel.is_empty()
            || rel.contains('\\')
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(outside());
        }
        let resolved = match self.root.join(path).canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DocumentError::Missing(rel.to_string()))
            }
            Err(source) => {
                return Err(DocumentError::Io {
                    path: rel.to_string(),
                    source,
                })
            }
        };
        if !resolved.starts_with(&self.root) {
            return Err(outside());
        }
        if !resolved.is_file() {
            return Err(DocumentError::Missing(rel.to_string()));
        }
        std::fs::read(&resolved).map_err(|source| DocumentError::Io {
            path: rel.to_string(),
            source,
        })
    }
}

/// The media type of a document by its file name's extension.
pub fn media_type(file_name: &str) -> &'static str {
    match Path::new(file_name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("tif" | "tiff") => "image/tiff",
        Some("txt") => "text/plain; charset=utf-8",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_dir_refuses_paths_out_of_it() {
        let base = std::env::temp_dir().join(format!("bando-docs-{}", std::process::id()));
        let root = base.join("docs");
        std::fs::create_dir_all(root.join("2024")).expect("dirs");
        std::fs::write(root.join("2024/qd.pdf"), b"%PDF-1.4").expect("file");
        std::fs::write(base.join("secret.txt"), b"secret").expect("file");
        let dir = DocumentsDir::open(&root).expect("open");
        assert_eq!(
            dir.relative(&root.join("2024/qd.pdf")).expect("rel"),
            "2024/qd.pdf"
        );
        assert_eq!(dir.read("2024/qd.pdf").expect("read"), b"%PDF-1.4");
        assert!(matches!(
            dir.relative(&base.join("secret.txt")),
            Err(DocumentError::Outside { .. })
        ));
        for bad in [
            "../secret.txt",
            "/etc/passwd",
            "2024/../../secret.txt",
            "",
            "a\\b",
        ] {
            assert!(
                matches!(dir.read(bad), Err(DocumentError::Outside { .. })),
                "{bad}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("secret.txt"), root.join("link.txt"))
                .expect("link");
            assert!(matches!(
                dir.read("link.txt"),
                Err(DocumentError::Outside { .. })
            ));
            assert!(matches!(
                dir.relative(&root.join("link.txt")),
                Err(DocumentError::Outside { .. })
            ));
        }
        assert!(matches!(
            dir.read("2024/none.pdf"),
            Err(DocumentError::Missing(_))
        ));
        assert_eq!(media_type("QD 1.PDF"), "application/pdf");
        let _ = std::fs::remove_dir_all(&base);
    }
}
