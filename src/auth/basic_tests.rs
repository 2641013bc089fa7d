//! Unit tests of `basic`.

use super::*;

#[test]
fn hashes_verify_and_parse() {
    let users = vec![BasicUser {
        username: "hook".into(),
        password_hash: hash("s3cret").unwrap(),
    }];
    assert_eq!(verify(&users, "hook", "s3cret").unwrap().sub, "hook");
    assert_eq!(
        verify(&users, "hook", "wrong"),
        Err(AuthError::InvalidCredentials)
    );
    assert_eq!(
        verify(&users, "nobody", "s3cret"),
        Err(AuthError::InvalidCredentials)
    );
    let header = format!("Basic {}", STANDARD.encode("hook:s3:cret"));
    assert_eq!(
        parse(header.as_bytes()),
        Some(("hook".into(), "s3:cret".into()))
    );
    assert_eq!(parse(b"Bearer abc"), None);
    assert!(PasswordHash::new(DUMMY_HASH).is_ok());
}

fn limits(max_concurrent: usize, max_queue: usize, queue_timeout_ms: u64) -> BasicLimits {
    BasicLimits {
        max_concurrent,
        max_queue,
        queue_timeout: Duration::from_millis(queue_timeout_ms),
        failure_cache_ttl: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn the_limiter_queues_a_few_and_refuses_the_rest() {
    let limiter = Arc::new(Limiter::new(1, 1, Duration::from_secs(5)));
    let held = limiter.acquire().await.unwrap();
    // One waiter fits in the queue...
    let l = limiter.clone();
    let waiter = tokio::spawn(async move { l.acquire().await.map(drop) });
    while limiter.waiting.load(Ordering::Acquire) == 0 {
        tokio::task::yield_now().await;
    }
    // ...the next one is refused at once.
    assert_eq!(limiter.acquire().await.unwrap_err(), AuthError::Overloaded);
    drop(held);
    assert_eq!(waiter.await.unwrap(), Ok(()));
    assert_eq!(limiter.waiting.load(Ordering::Acquire), 0);
    // A free slot is taken without queueing.
    drop(limiter.acquire().await.unwrap());
}

#[tokio::test]
async fn a_waiter_gives_up_after_the_timeout_and_leaves_the_queue() {
    let limiter = Limiter::new(1, 4, Duration::from_millis(50));
    let _held = limiter.acquire().await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(limiter.acquire().await.unwrap_err(), AuthError::Overloaded);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(limiter.waiting.load(Ordering::Acquire), 0);
    // A cancelled waiter leaves the queue too.
    let cancelled = tokio::time::timeout(Duration::from_millis(10), limiter.acquire()).await;
    assert!(cancelled.is_err());
    assert_eq!(limiter.waiting.load(Ordering::Acquire), 0);
}

#[tokio::test]
async fn wrong_and_right_credentials_are_cached_apart() {
    let users = vec![BasicUser {
        username: "hook".into(),
        password_hash: hash("s3cret").unwrap(),
    }];
    let checker = Checker::new(&limits(1, 4, 60_000));
    let wrong = [1u8; 32];
    let right = [2u8; 32];
    let check = |key, pass: &str| checker.check(key, &users, "hook".into(), pass.into());
    let (r, how) = check(wrong, "nope").await;
    assert_eq!(
        (r.unwrap_err(), how),
        (AuthError::InvalidCredentials, CheckResult::Failed)
    );
    let (r, how) = check(wrong, "nope").await;
    assert_eq!(
        (r.unwrap_err(), how),
        (AuthError::InvalidCredentials, CheckResult::CachedFailure)
    );
    let (r, how) = check(right, "s3cret").await;
    assert_eq!(
        (r.unwrap().sub.as_str(), how),
        ("hook", CheckResult::Verified)
    );
    let (r, how) = check(right, "s3cret").await;
    assert_eq!(
        (r.unwrap().sub.as_str(), how),
        ("hook", CheckResult::Cached)
    );
}

#[tokio::test]
async fn cached_answers_take_no_slot_and_a_full_queue_is_overloaded() {
    let users = vec![BasicUser {
        username: "hook".into(),
        password_hash: hash("s3cret").unwrap(),
    }];
    let checker = Checker::new(&limits(1, 1, 60_000));
    let (r, _) = checker
        .check([1; 32], &users, "hook".into(), "s3cret".into())
        .await;
    assert!(r.is_ok());
    let (r, _) = checker
        .check([2; 32], &users, "hook".into(), "bad".into())
        .await;
    assert!(r.is_err());
    // Every slot and the whole queue taken...
    let _held = checker.limiter.acquire().await.unwrap();
    checker.limiter.waiting.fetch_add(1, Ordering::AcqRel);
    // ...a new credential is refused, cached ones are still answered.
    let (r, how) = checker
        .check([3; 32], &users, "hook".into(), "other".into())
        .await;
    assert_eq!(
        (r.unwrap_err(), how),
        (AuthError::Overloaded, CheckResult::Overloaded)
    );
    let (_, how) = checker
        .check([1; 32], &users, "hook".into(), "s3cret".into())
        .await;
    assert_eq!(how, CheckResult::Cached);
    let (_, how) = checker
        .check([2; 32], &users, "hook".into(), "bad".into())
        .await;
    assert_eq!(how, CheckResult::CachedFailure);
    assert_eq!(CheckResult::CachedFailure.as_str(), "cached_failure");
}

#[test]
fn overloaded_is_a_503_with_retry_after_and_no_challenge() {
    let e = AuthError::Overloaded;
    assert_eq!(
        (e.status(), e.code(), e.error()),
        (503, "overloaded", "overloaded")
    );
    assert_eq!(e.retry_after(), Some(1));
    assert_eq!(e.challenge("t", true), None);
    assert_eq!(e.challenge("t", false), None);
    assert_eq!(AuthError::InvalidCredentials.retry_after(), None);
    assert_eq!(AuthError::IdpUnavailable("x".into()).retry_after(), None);
}
