//! The Cognito calls onboarding makes, over `aws-sdk-cognitoidentityprovider`: credentials
//! from the standard AWS chain, region and endpoint from the settings, a deadline on every
//! call. Each call answers `Ok`, or an error that says whether the thing was not there.

use crate::config::CognitoProvisioning;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, DeliveryMediumType, ExplicitAuthFlowsType, OAuthFlowType, TimeUnitsType,
    TokenValidityUnitsType,
};
use aws_sdk_cognitoidentityprovider::Client;
use std::time::Duration;

/// A failed Cognito call.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The error code Cognito gave (`ResourceNotFoundException`, ...), if it answered.
    pub code: Option<String>,
    pub message: String,
}

impl CallError {
    fn from_sdk<E, R>(e: aws_sdk_cognitoidentityprovider::error::SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Self {
            code: e.code().map(str::to_string),
            message: DisplayErrorContext(&e).to_string(),
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    pub fn not_found(&self) -> bool {
        self.is("ResourceNotFoundException") || self.is("UserNotFoundException")
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

type Result<T> = std::result::Result<T, CallError>;

/// What an app client is created with.
pub struct NewClient<'a> {
    pub name: &'a str,
    pub callback_urls: &'a [String],
    pub logout_urls: &'a [String],
}

/// The user pool, as onboarding uses it.
pub struct Cognito {
    client: Client,
    settings: CognitoProvisioning,
}

impl Cognito {
    pub async fn connect(settings: &CognitoProvisioning) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.timeout.min(Duration::from_secs(2)))
                    .operation_timeout(settings.timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .region(Region::new(settings.region.clone()));
        if let Some(e) = &settings.endpoint {
            loader = loader.endpoint_url(e);
        }
        let shared = loader.load().await;
        Self {
            client: Client::new(&shared),
            settings: settings.clone(),
        }
    }

    fn pool(&self) -> &str {
        &self.settings.user_pool_id
    }

    pub async fn create_group(&self, name: &str, tenant_id: &str) -> Result<()> {
        self.client
            .create_group()
            .user_pool_id(self.pool())
            .group_name(name)
            .description(format!("Users of tenant {tenant_id} (tenant-gateway)"))
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    pub async fn delete_group(&self, name: &str) -> Result<()> {
        self.client
            .delete_group()
            .user_pool_id(self.pool())
            .group_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    /// Creates a confidential app client with the authorization-code flow; answers its id
    /// and secret.
    pub async fn create_client(&self, c: &NewClient<'_>) -> Result<(String, String)> {
        let s = &self.settings;
        let out = self
            .client
            .create_user_pool_client()
            .user_pool_id(self.pool())
            .client_name(c.name)
            .generate_secret(true)
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(OAuthFlowType::Code)
            .set_allowed_o_auth_scopes(Some(s.scopes.clone()))
            .set_explicit_auth_flows(Some(
                s.explicit_auth_flows
                    .iter()
                    .map(|f| ExplicitAuthFlowsType::from(f.as_str()))
                    .collect(),
            ))
            .supported_identity_providers("COGNITO")
            .set_callback_urls(Some(c.callback_urls.to_vec()))
            .set_logout_urls(Some(c.logout_urls.to_vec()))
            .id_token_validity(secs(s.id_token_validity))
            .access_token_validity(secs(s.access_token_validity))
            .refresh_token_validity(secs(s.refresh_token_validity))
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .id_token(TimeUnitsType::Seconds)
                    .access_token(TimeUnitsType::Seconds)
                    .refresh_token(TimeUnitsType::Seconds)
                    .build(),
            )
            .prevent_user_existence_errors(
                aws_sdk_cognitoidentityprovider::types::PreventUserExistenceErrorTypes::Enabled,
            )
            .enable_token_revocation(true)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        let client = out.user_pool_client();
        match (
            client.and_then(|c| c.client_id()),
            client.and_then(|c| c.client_secret()),
        ) {
            (Some(id), Some(secret)) => Ok((id.to_string(), secret.to_string())),
            _ => Err(CallError {
                code: None,
                message: "Cognito created the app client but answered without its id or secret"
                    .into(),
            }),
        }
    }

    /// Replaces the client's callback and logout URLs. Cognito resets every setting an update
    /// leaves out, so the others are read first and sent back unchanged.
    pub async fn set_client_urls(
        &self,
        client_id: &str,
        callback_urls: &[String],
        logout_urls: &[String],
    ) -> Result<()> {
        let described = self
            .client
            .describe_user_pool_client()
            .user_pool_id(self.pool())
            .client_id(client_id)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        let Some(c) = described.user_pool_client() else {
            return Err(CallError {
                code: Some("ResourceNotFoundException".into()),
                message: format!("app client {client_id} not found"),
            });
        };
        let list = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        self.client
            .update_user_pool_client()
            .user_pool_id(self.pool())
            .client_id(client_id)
            .set_client_name(c.client_name().map(str::to_string))
            .refresh_token_validity(c.refresh_token_validity())
            .set_access_token_validity(c.access_token_validity())
            .set_id_token_validity(c.id_token_validity())
            .set_token_validity_units(c.token_validity_units().cloned())
            .set_read_attributes(list(c.read_attributes()))
            .set_write_attributes(list(c.write_attributes()))
            .set_explicit_auth_flows(
                (!c.explicit_auth_flows().is_empty()).then(|| c.explicit_auth_flows().to_vec()),
            )
            .set_supported_identity_providers(list(c.supported_identity_providers()))
            .set_callback_urls(Some(callback_urls.to_vec()))
            .set_logout_urls(Some(logout_urls.to_vec()))
            .set_default_redirect_uri(
                c.default_redirect_uri()
                    .filter(|u| callback_urls.iter().any(|x| x == u))
                    .map(str::to_string),
            )
            .set_allowed_o_auth_flows(
                (!c.allowed_o_auth_flows().is_empty()).then(|| c.allowed_o_auth_flows().to_vec()),
            )
            .set_allowed_o_auth_scopes(list(c.allowed_o_auth_scopes()))
            .set_allowed_o_auth_flows_user_pool_client(c.allowed_o_auth_flows_user_pool_client())
            .set_analytics_configuration(c.analytics_configuration().cloned())
            .set_prevent_user_existence_errors(c.prevent_user_existence_errors().cloned())
            .set_enable_token_revocation(c.enable_token_revocation())
            .set_enable_propagate_additional_user_context_data(
                c.enable_propagate_additional_user_context_data(),
            )
            .set_auth_session_validity(c.auth_session_validity())
            .set_refresh_token_rotation(c.refresh_token_rotation().cloned())
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        self.client
            .delete_user_pool_client()
            .user_pool_id(self.pool())
            .client_id(client_id)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    /// Creates the tenant administrator with Cognito's invitation (a temporary password sent
    /// by email; the first sign-in sets a new one).
    pub async fn create_user(&self, username: &str, email: &str, tenant_id: &str) -> Result<()> {
        let attr = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| CallError {
                    code: None,
                    message: e.to_string(),
                })
        };
        self.client
            .admin_create_user()
            .user_pool_id(self.pool())
            .username(username)
            .user_attributes(attr("email", email)?)
            .user_attributes(attr("email_verified", "true")?)
            .user_attributes(attr(crate::config::DEFAULT_TENANT_CLAIM, tenant_id)?)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    /// The user's `custom:tenantid`, or `None` when the user does not exist.
    pub async fn user_tenant(&self, username: &str) -> Result<Option<Option<String>>> {
        match self
            .client
            .admin_get_user()
            .user_pool_id(self.pool())
            .username(username)
            .send()
            .await
        {
            Ok(u) => Ok(Some(
                u.user_attributes()
                    .iter()
                    .find(|a| a.name() == crate::config::DEFAULT_TENANT_CLAIM)
                    .and_then(|a| a.value().map(str::to_string)),
            )),
            Err(e) => {
                let e = CallError::from_sdk(e);
                if e.not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    pub async fn add_to_group(&self, username: &str, group: &str) -> Result<()> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(self.pool())
            .username(username)
            .group_name(group)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    pub async fn delete_user(&self, username: &str) -> Result<()> {
        self.client
            .admin_delete_user()
            .user_pool_id(self.pool())
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(CallError::from_sdk)
    }

    /// The usernames in a group (every page).
    pub async fn group_users(&self, group: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .list_users_in_group()
                .user_pool_id(self.pool())
                .group_name(group)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(CallError::from_sdk)?;
            out.extend(
                page.users()
                    .iter()
                    .filter_map(|u| u.username().map(str::to_string)),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}
