//! Reload triggers that need no operator call: a file watch on the configuration files (with
//! a short debounce, so an editor's write-rename counts once) and SIGHUP.

use super::Reloader;
use async_trait::async_trait;
use notify::{RecursiveMode, Watcher};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Background service that reloads on file changes and on SIGHUP.
pub struct ConfigWatcher {
    reloader: Arc<Reloader>,
    paths: Vec<PathBuf>,
    watch_files: bool,
}

impl ConfigWatcher {
    pub fn new(reloader: Arc<Reloader>, paths: Vec<PathBuf>, watch_files: bool) -> Self {
        Self {
            reloader,
            paths,
            watch_files,
        }
    }

    /// Watches each file's directory (renames replace the file) and each directory itself.
    fn start_watcher(
        &self,
        tx: tokio::sync::mpsc::UnboundedSender<()>,
    ) -> Option<notify::RecommendedWatcher> {
        let targets: Vec<PathBuf> = self
            .paths
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .collect();
        let interesting = targets.clone();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let Ok(ev) = ev else { return };
            if ev.kind.is_access() {
                return;
            }
            if ev.paths.iter().any(|p| interesting.iter().any(|t| p.starts_with(t))) {
                let _ = tx.send(());
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "file watch unavailable; reload with SIGHUP or the admin API"))
        .ok()?;
        for t in &targets {
            let dir = if t.is_dir() {
                t.as_path()
            } else {
                t.parent().unwrap_or(t)
            };
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(path = %dir.display(), error = %e, "cannot watch");
            }
        }
        Some(watcher)
    }
}

#[async_trait]
impl BackgroundService for ConfigWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _watcher = if self.watch_files {
            self.start_watcher(tx)
        } else {
            None
        };
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP");
                None
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = rx.recv() => {
                    // Debounce: let the writer finish, then drain what queued meanwhile.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    while rx.try_recv().is_ok() {}
                    let _ = self.reloader.reload("file-watch").await;
                }
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                    let _ = self.reloader.reload("sighup").await;
                }
            }
        }
    }
}
