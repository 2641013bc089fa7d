//! The DynamoDB client: credentials from the standard AWS provider chain, region and
//! endpoint from the settings, a deadline on every call and few retries (the follower has
//! its own backoff, and a write that cannot reach the store should answer quickly).

use crate::config::DynamoSettings;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::Client;
use std::time::Duration;

pub async fn connect(settings: &DynamoSettings) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.timeout.min(Duration::from_secs(1)))
                .operation_timeout(settings.timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    // A local endpoint needs no region lookup (and must not wait on instance metadata).
    let region = settings.region.clone().or_else(|| {
        std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok()
            .or_else(|| settings.endpoint.as_ref().map(|_| "us-east-1".to_string()))
    });
    if let Some(r) = region {
        loader = loader.region(Region::new(r));
    }
    if let Some(e) = &settings.endpoint {
        loader = loader.endpoint_url(e);
    }
    let shared = loader.load().await;
    let mut conf = aws_sdk_dynamodb::config::Builder::from(&shared);
    if shared.region().is_none() {
        conf = conf.region(Region::new("us-east-1"));
    }
    Client::from_conf(conf.build())
}

/// A scan page (up to 1 MB) may take far longer than a point read; a slow page must not be
/// mistaken for an outage at start-up or on a full reload.
pub fn scan_timeouts(settings: &DynamoSettings) -> aws_sdk_dynamodb::config::Builder {
    longer(settings, Duration::from_secs(60))
}

/// A transaction that times out may still commit (its outcome is then unknown, see
/// `change::apply_change`): give writes more time than polls.
pub fn write_timeouts(settings: &DynamoSettings) -> aws_sdk_dynamodb::config::Builder {
    longer(settings, Duration::from_secs(10))
}

fn longer(settings: &DynamoSettings, at_least: Duration) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default().timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(1)))
            .operation_timeout(settings.timeout.max(at_least))
            .build(),
    )
}
