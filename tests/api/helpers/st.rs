//! Shared helpers for the ServiceTitan client/sandbox tests.
#![allow(dead_code)]
use std::time::Duration;

use secrecy::SecretString;
use titanbridge::sandbox::{self, SandboxConfig, SandboxHandle, TenantSeed};
use titanbridge::servicetitan::{ClientConfig, Credentials, ServiceTitan, TenantClient};

pub const APP_KEY: &str = "test-app-key";
pub const TENANT: i64 = 5_550_001;
pub const CLIENT_ID: &str = "cid-test";
pub const CLIENT_SECRET: &str = "s3cr3t-client-secret-value";
pub const GUID: &str = "7f3c2a10-0000-4000-8000-000000000001";

/// A sandbox with one tenant granted to `CLIENT_ID`.
pub async fn sandbox(cfg: SandboxConfig) -> SandboxHandle {
    let cfg = SandboxConfig {
        app_key: APP_KEY.into(),
        tenants: vec![TenantSeed {
            tenant_id: TENANT,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        }],
        ..cfg
    };
    match sandbox::start("127.0.0.1:0", cfg).await {
        Ok(h) => h,
        Err(e) => panic!("sandbox did not start: {e}"),
    }
}

/// Client settings with fast retries suitable for tests.
pub fn client_config(rate: u32) -> ClientConfig {
    ClientConfig {
        app_key: SecretString::from(APP_KEY),
        rate_limit_per_sec: rate,
        request_timeout: Duration::from_secs(10),
        max_retries: 10,
        application_guid: GUID.into(),
    }
}

/// A process client and the tenant client for the default tenant.
pub fn client(h: &SandboxHandle, rate: u32) -> (ServiceTitan, TenantClient) {
    let st = ServiceTitan::new(client_config(rate));
    let tc = st.tenant(
        h.environment(),
        TENANT,
        Credentials::new(CLIENT_ID, CLIENT_SECRET),
    );
    (st, tc)
}
