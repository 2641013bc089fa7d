//! An admin API change on the DynamoDB source: catch up with the fleet, apply the change to
//! the held records, validate it like a file edit (the changed records alone when the version
//! in service was loaded from the held records, see `Reloader::validate_records`), commit the
//! difference as one conditional transaction, then make it live on this node before
//! answering. Another node committing first makes the commit stale: catch up and run the
//! change again (it may now conflict, e.g. the subdomain was just taken: 409).

use super::follow::Follower;
use super::write::{Commit, CommitError};
use super::Stored;
use crate::config;
use crate::config::file::{TenantFile, TenantsFile};
use crate::store::{ChangeError, Records, ReloadOutcome, Validated};
use std::path::Path;

const ATTEMPTS: usize = 5;

pub async fn apply_change<T>(
    follower: &Follower,
    gateway: &Path,
    change: &mut impl FnMut(&mut Records) -> Result<T, ChangeError>,
) -> Result<(T, ReloadOutcome), ChangeError> {
    let mut held = follower.lock().await;
    for _ in 0..ATTEMPTS {
        follower
            .sync_locked(&mut held, "dynamodb")
            .await
            .map_err(|e| ChangeError::Unavailable(e.to_string()))?;
        let mut records = Records::from(
            (held.records.values())
                .map(|s| s.record.clone())
                .collect::<Vec<_>>(),
        );
        let out = change(&mut records)?;
        // Every record here was parsed: this only takes them out.
        let mut records = records.all()?;
        // The order the reload path sees the held records in (by id), so the configuration
        // validated here is the one published after the commit.
        records.sort_by(|a, b| a.id.cmp(&b.id));
        let label = follower.store().settings().label();
        let gateway = gateway.to_path_buf();
        let reloader = follower.reloader();
        let checked = records.clone();
        let validated = tokio::task::spawn_blocking(move || {
            crate::priority::background();
            match reloader {
                Some(r) => r.validate_records(label, &checked),
                None => {
                    let tenants = checked.iter().map(|r| TenantFile::clone(r)).collect();
                    config::load_with(&gateway, Some((label, TenantsFile { tenants })))
                        .map(Validated::Full)
                }
            }
        })
        .await
        .map_err(|e| ChangeError::Io(std::io::Error::other(e)))?
        .map_err(ChangeError::Invalid)?;
        let commit = Commit::diff(held.seq, &held.records, &records);
        if commit.is_empty() {
            let generation = follower.generation();
            return Ok((out, ReloadOutcome::Unchanged { generation }));
        }
        match follower.store().commit(&commit).await {
            Ok(next) => {
                for (t, prev) in &commit.puts {
                    let version = prev.map_or(1, |v| v + 1);
                    held.records.insert(
                        t.id.clone(),
                        Stored {
                            record: t.clone(),
                            version,
                        },
                    );
                }
                for (id, _) in &commit.deletes {
                    held.records.remove(id);
                }
                held.seq = next;
                let outcome = follower
                    .publish_validated(&held, "admin-api", Some(validated))
                    .await;
                return Ok((out, outcome));
            }
            Err(CommitError::Stale) => continue,
            Err(CommitError::HostTaken(claim)) => {
                let (kind, name) = claim.split_once(':').unwrap_or(("name", &claim));
                let kind = if kind == "sub" { "subdomain" } else { "domain" };
                return Err(ChangeError::Conflict(format!(
                    "{kind} {name:?} belongs to another tenant"
                )));
            }
            Err(CommitError::Store(e)) => {
                follower.mark_failed("write", &e);
                return Err(ChangeError::Unavailable(e.to_string()));
            }
            Err(CommitError::Unknown(e)) => {
                // The store did not answer; the transaction may still have committed. Catch
                // up and look: our records present means it did.
                follower.mark_failed("write", &e);
                let landed = follower.sync_locked(&mut held, "dynamodb").await.is_ok()
                    && commit
                        .puts
                        .iter()
                        .all(|(t, _)| held.records.get(&t.id).is_some_and(|s| s.record == *t))
                    && commit
                        .deletes
                        .iter()
                        .all(|(id, _)| !held.records.contains_key(id));
                if landed {
                    let generation = follower.generation();
                    return Ok((out, ReloadOutcome::Unchanged { generation }));
                }
                return Err(ChangeError::Unavailable(format!(
                    "{e} (the change may still be applied: read the tenant before retrying)"
                )));
            }
        }
    }
    Err(ChangeError::Unavailable(
        "other nodes kept changing the store; try again".to_string(),
    ))
}
