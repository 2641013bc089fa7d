//! Onboarding's identity side: what a new tenant gets in the shared Cognito user pool (a
//! group, an app client whose callback and logout URLs are the tenant's hosts, an invited
//! administrator), created all-or-nothing, kept in step with the tenant's hosts, and removed
//! with the tenant.

mod cognito;
mod secrets;

pub use cognito::CallError;
pub use secrets::SecretStore;

use crate::config::file::{
    IdpFile, IdpKindFile, ManagedIdpFile, SecretRefFile, TenantBindingFile, TenantFile,
    TokenKindFile,
};
use crate::config::{CognitoProvisioning, RoutingConfig};
use cognito::{Cognito, NewClient};
use serde::Serialize;

/// Why provisioning stopped: the step that failed, and what was removed again or could not be.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub step: &'static str,
    pub message: String,
    pub rolled_back: Vec<String>,
    pub left_behind: Vec<String>,
}

/// Something onboarding created, and how to remove it again.
#[derive(Debug, Clone)]
enum Made {
    Group(String),
    Client(String),
    Secret(String),
    User(String),
}

impl Made {
    fn describe(&self) -> String {
        match self {
            Made::Group(g) => format!("group {g}"),
            Made::Client(c) => format!("app client {c}"),
            Made::Secret(t) => format!("client secret of tenant {t}"),
            Made::User(u) => format!("user {u}"),
        }
    }
}

/// What onboarding created for a tenant: the `idp` block its record gets, and what to remove
/// if the record cannot be written.
#[derive(Debug)]
pub struct Provisioned {
    pub idp: IdpFile,
    pub client_id: String,
    pub group: String,
    pub admin_user: Option<String>,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    made: Vec<Made>,
}

impl Provisioned {
    pub fn summary(&self) -> serde_json::Value {
        summary_json(
            &self.client_id,
            &self.group,
            self.admin_user.as_deref(),
            &self.callback_urls,
            &self.logout_urls,
        )
    }
}

/// The `provisioned` block of an onboarding's answer (and of its replay).
fn summary_json(
    client_id: &str,
    group: &str,
    admin_user: Option<&str>,
    callback_urls: &[String],
    logout_urls: &[String],
) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id,
        "group": group,
        "admin_user": admin_user,
        "callback_urls": callback_urls,
        "logout_urls": logout_urls,
    })
}

/// The hosts a tenant is served at: its subdomain under each base domain, then its custom
/// domains (sorted, each once; only verified ones when domain verification is on).
pub fn tenant_hosts(routing: &RoutingConfig, t: &TenantFile) -> Vec<String> {
    let verification_on = routing.domain_verification.is_some();
    let mut out: Vec<String> = routing
        .base_domains
        .iter()
        .map(|b| format!("{}.{b}", t.subdomain.to_ascii_lowercase()))
        .collect();
    let mut custom: Vec<String> = t
        .custom_domains
        .iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| crate::domains::is_served(t, d, verification_on))
        .collect();
    custom.sort();
    custom.dedup();
    out.extend(
        custom
            .into_iter()
            .filter(|d| !out.contains(d))
            .collect::<Vec<_>>(),
    );
    out
}

/// The callback and logout URLs an app client needs for `hosts`: the gateway's callback path
/// and its home page (where logout returns) on each.
pub fn client_urls(
    s: &CognitoProvisioning,
    hosts: &[String],
    callback_path: &str,
) -> (Vec<String>, Vec<String>) {
    let port = s.public_port.map(|p| format!(":{p}")).unwrap_or_default();
    let origin = |h: &String| format!("{}://{h}{port}", s.public_scheme);
    (
        hosts
            .iter()
            .map(|h| format!("{}{callback_path}", origin(h)))
            .collect(),
        hosts.iter().map(|h| format!("{}/", origin(h))).collect(),
    )
}

/// Creates, updates and removes tenants' identity resources in the user pool.
pub struct Provisioner {
    settings: CognitoProvisioning,
    /// Connected on first use (loading the AWS configuration is async).
    api: tokio::sync::OnceCell<Cognito>,
    secrets: SecretStore,
}

impl Provisioner {
    pub fn new(settings: CognitoProvisioning, secrets: SecretStore) -> Self {
        Self {
            settings,
            api: tokio::sync::OnceCell::new(),
            secrets,
        }
    }

    fn settings(&self) -> &CognitoProvisioning {
        &self.settings
    }

    async fn cognito(&self) -> &Cognito {
        self.api
            .get_or_init(|| Cognito::connect(&self.settings))
            .await
    }

    /// The `idp` block of a provisioned tenant (`client_id` and `client_secret` of its app
    /// client; a placeholder client and no secret to validate a record before creating it).
    pub fn idp_block(
        &self,
        client_id: &str,
        client_secret: Option<SecretRefFile>,
        managed: Option<ManagedIdpFile>,
    ) -> IdpFile {
        let s = self.settings();
        let hosted = |path: &str| s.hosted_ui.as_ref().map(|u| format!("{u}{path}"));
        IdpFile {
            kind: IdpKindFile::Cognito,
            issuer: s.issuer.clone(),
            discovery_url: None,
            authorization_endpoint: hosted("/oauth2/authorize"),
            token_endpoint: hosted("/oauth2/token"),
            jwks_uri: s.jwks_uri.clone(),
            end_session_endpoint: hosted("/logout"),
            client_id: client_id.to_string(),
            client_secret,
            scopes: s.scopes.clone(),
            identity_provider: None,
            // The pool is shared: any of its users can sign in through any tenant's client, so
            // the client alone does not say whose user this is. The tenant claim written at
            // onboarding does (ID tokens), or the tenant group (access tokens carry no custom
            // attributes), when the group pattern ends with the id.
            tenant_binding: Some(TenantBindingFile::Rule {
                claim: Some(crate::config::DEFAULT_TENANT_CLAIM.to_string()),
                group: s.group_pattern.strip_suffix("{id}").map(str::to_string),
            }),
            tenant_claim: None,
            tenant_group_prefix: None,
            accept_tokens: vec![TokenKindFile::Id, TokenKindFile::Access],
            audiences: vec![],
            groups_claim: None,
            claim_headers: Default::default(),
            forward_token: false,
            managed,
        }
    }

    /// What onboarding created for a stored tenant (`None` when its IdP is not managed): the
    /// `provisioned` block of a replayed onboarding.
    pub fn summary_of(&self, t: &TenantFile, routing: &RoutingConfig) -> Option<serde_json::Value> {
        let idp = t.idp.as_ref()?;
        let managed = idp.managed.as_ref()?;
        let (callback_urls, logout_urls) =
            self.urls(&tenant_hosts(routing, t), &routing.auth.callback_path);
        Some(summary_json(
            &idp.client_id,
            &managed.group,
            managed.admin_user.as_deref(),
            &callback_urls,
            &logout_urls,
        ))
    }

    /// The app client's callback and logout URLs for `hosts`.
    pub fn urls(&self, hosts: &[String], callback_path: &str) -> (Vec<String>, Vec<String>) {
        client_urls(self.settings(), hosts, callback_path)
    }

    /// Creates the tenant's group, app client (secret kept in the secret store) and, when
    /// configured and an email is given, its invited administrator. On failure, whatever was
    /// created is removed again before answering. With `adopt`, a group or administrator
    /// already there for this tenant (a retried onboarding whose first attempt left them) is
    /// used instead of failing, and never removed on rollback.
    pub async fn create(
        &self,
        tenant_id: &str,
        admin_email: Option<&str>,
        hosts: &[String],
        callback_path: &str,
        adopt: bool,
    ) -> Result<Provisioned, Failure> {
        let s = self.settings();
        let group = s.group_for(tenant_id);
        let mut made = Vec::new();
        let fail = |step: &'static str, e: String, made: Vec<Made>| async move {
            Err(self.roll_back(step, e, made).await)
        };
        match self.cognito().await.create_group(&group, tenant_id).await {
            Ok(()) => made.push(Made::Group(group.clone())),
            Err(e) if adopt && e.is("GroupExistsException") => {}
            Err(e) => return fail("create_group", e.to_string(), made).await,
        }
        let (callback_urls, logout_urls) = self.urls(hosts, callback_path);
        let name = format!("tenant-gateway-{tenant_id}");
        let client = NewClient {
            name: &name,
            callback_urls: &callback_urls,
            logout_urls: &logout_urls,
        };
        let (client_id, secret) = match self.cognito().await.create_client(&client).await {
            Ok(v) => v,
            Err(e) => return fail("create_app_client", e.to_string(), made).await,
        };
        made.push(Made::Client(client_id.clone()));
        let secret_ref = match self.secrets.put(tenant_id, &secret) {
            Ok(r) => r,
            Err(e) => return fail("store_secret", e, made).await,
        };
        made.push(Made::Secret(tenant_id.to_string()));
        let admin_user = match admin_email.filter(|_| s.admin_user) {
            Some(email) => {
                match self
                    .cognito()
                    .await
                    .create_user(email, email, tenant_id)
                    .await
                {
                    Ok(()) => made.push(Made::User(email.to_string())),
                    Err(e) if adopt && e.is("UsernameExistsException") => {
                        match self.cognito().await.user_tenant(email).await {
                            Ok(Some(Some(t))) if t.eq_ignore_ascii_case(tenant_id) => {}
                            Ok(_) => {
                                let m =
                                    format!("user {email} exists and belongs to another tenant");
                                return fail("create_admin_user", m, made).await;
                            }
                            Err(e) => return fail("create_admin_user", e.to_string(), made).await,
                        }
                    }
                    Err(e) => return fail("create_admin_user", e.to_string(), made).await,
                }
                if let Err(e) = self.cognito().await.add_to_group(email, &group).await {
                    return fail("add_admin_to_group", e.to_string(), made).await;
                }
                Some(email.to_string())
            }
            None => None,
        };
        let managed = ManagedIdpFile {
            user_pool_id: s.user_pool_id.clone(),
            group: group.clone(),
            admin_user: admin_user.clone(),
        };
        let idp = self.idp_block(&client_id, Some(secret_ref), Some(managed));
        Ok(Provisioned {
            idp,
            client_id,
            group,
            admin_user,
            callback_urls,
            logout_urls,
            made,
        })
    }

    /// Removes what `p` created because a later step (`step`) failed.
    pub async fn undo(&self, p: Provisioned, step: &'static str, message: String) -> Failure {
        self.roll_back(step, message, p.made).await
    }

    async fn roll_back(&self, step: &'static str, message: String, made: Vec<Made>) -> Failure {
        let mut rolled_back = Vec::new();
        let mut left_behind = Vec::new();
        for m in made.into_iter().rev() {
            let result = match &m {
                Made::Group(g) => self
                    .cognito()
                    .await
                    .delete_group(g)
                    .await
                    .map_err(|e| e.to_string()),
                Made::Client(c) => self
                    .cognito()
                    .await
                    .delete_client(c)
                    .await
                    .map_err(|e| e.to_string()),
                Made::Secret(t) => self.secrets.remove(t),
                Made::User(u) => self
                    .cognito()
                    .await
                    .delete_user(u)
                    .await
                    .map_err(|e| e.to_string()),
            };
            match result {
                Ok(()) => rolled_back.push(m.describe()),
                Err(e) => {
                    tracing::error!(resource = %m.describe(), error = %e, "provisioning rollback failed: remove it by hand");
                    left_behind.push(m.describe());
                }
            }
        }
        tracing::warn!(step, error = %message, ?rolled_back, ?left_behind, "provisioning failed");
        Failure {
            step,
            message,
            rolled_back,
            left_behind,
        }
    }

    /// Points the tenant's app client at `hosts` (a host was added, removed or renamed).
    pub async fn set_hosts(
        &self,
        client_id: &str,
        hosts: &[String],
        callback_path: &str,
    ) -> Result<(), Failure> {
        let (callbacks, logouts) = self.urls(hosts, callback_path);
        self.cognito()
            .await
            .set_client_urls(client_id, &callbacks, &logouts)
            .await
            .map_err(|e| Failure {
                step: "update_app_client",
                message: e.to_string(),
                rolled_back: vec![],
                left_behind: vec![],
            })
    }

    /// Removes a tenant's app client and group (and, when configured, the group's users)
    /// before its record goes. What is already gone counts as removed, so a retried delete
    /// finishes the job.
    pub async fn remove(&self, idp: &IdpFile) -> Result<(), Failure> {
        let Some(managed) = &idp.managed else {
            return Ok(());
        };
        let fail = |step: &'static str, e: CallError| Failure {
            step,
            message: e.to_string(),
            rolled_back: vec![],
            left_behind: vec![],
        };
        let gone = |r: Result<(), CallError>| match r {
            Err(e) if e.not_found() => Ok(()),
            r => r,
        };
        if self.settings().delete_users {
            match self.cognito().await.group_users(&managed.group).await {
                Ok(users) => {
                    for u in users {
                        gone(self.cognito().await.delete_user(&u).await)
                            .map_err(|e| fail("delete_users", e))?;
                    }
                }
                Err(e) if e.not_found() => {}
                Err(e) => return Err(fail("delete_users", e)),
            }
        }
        gone(self.cognito().await.delete_client(&idp.client_id).await)
            .map_err(|e| fail("delete_app_client", e))?;
        gone(self.cognito().await.delete_group(&managed.group).await)
            .map_err(|e| fail("delete_group", e))?;
        Ok(())
    }

    /// Removes a deleted tenant's stored client secret (after its record is gone: a record
    /// naming a missing secret file would not load).
    pub fn forget_secret(&self, tenant_id: &str) {
        if let Err(e) = self.secrets.remove(tenant_id) {
            // The client it belonged to is gone: the secret opens nothing any more.
            tracing::warn!(tenant = tenant_id, error = %e, "could not remove a deleted tenant's client secret");
        }
    }
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
