//! `titanbridge demo`: everything a newcomer needs to click through onboarding in a browser.
//! Starts the ServiceTitan sandbox in-process with a tenant and client credentials, seeds an
//! ops user and a partner with an admin, writes email to a folder, and prints where to go.
use secrecy::SecretString;

use crate::config::{Settings, random_key};
use crate::sandbox::{self, SandboxConfig, SandboxHandle, TenantSeed};
use crate::startup::{AppState, Application};
use crate::store::users::{NewUser, Role};
use crate::store::{partners, users};

/// The seeded ops user.
pub const OPS_EMAIL: &str = "ops@titanbridge.local";
/// The seeded ops user's password.
pub const OPS_PASSWORD: &str = "demo-ops-password";
/// The seeded partner admin.
pub const PARTNER_EMAIL: &str = "admin@acme.example";
/// The seeded partner admin's password.
pub const PARTNER_PASSWORD: &str = "demo-partner-password";
/// The sandbox App Key the demo configures.
pub const SANDBOX_APP_KEY: &str = "sandbox-app-key";

/// A prepared demo: the app bound but not yet serving, and the running sandbox.
pub struct Demo {
    /// The web application.
    pub app: Application,
    /// The in-process ServiceTitan sandbox.
    pub sandbox: SandboxHandle,
    /// The sandbox tenant and its credentials.
    pub tenant: TenantSeed,
    /// Where the app is reached.
    pub public_url: String,
    /// Where email is written (file transport), if it is.
    pub mail_dir: Option<String>,
}

/// Adjusts `settings` for the demo, starts the sandbox, migrates and seeds (idempotently).
pub async fn prepare_demo(mut settings: Settings) -> anyhow::Result<Demo> {
    let tenant = TenantSeed::demo();
    let sandbox = sandbox::start(
        "127.0.0.1:0",
        SandboxConfig {
            app_key: SANDBOX_APP_KEY.into(),
            tenants: vec![tenant.clone()],
            ..SandboxConfig::default()
        },
    )
    .await?;
    use secrecy::ExposeSecret;
    if settings.encryption_key.expose_secret().is_empty()
        || settings.session_key.expose_secret().is_empty()
    {
        let (enc, session) = demo_keys(std::path::Path::new(DEMO_KEYS_FILE))?;
        if settings.encryption_key.expose_secret().is_empty() {
            settings.encryption_key = enc;
        }
        if settings.session_key.expose_secret().is_empty() {
            settings.session_key = session;
        }
    }
    if settings.database_url == Settings::default().database_url {
        settings.database_url = "sqlite://titanbridge-demo.db?mode=rwc".into();
    }
    settings.servicetitan.environment = "sandbox".into();
    settings.servicetitan.auth_url = sandbox.base_url.clone();
    settings.servicetitan.api_url = sandbox.base_url.clone();
    settings.servicetitan.app_key = SecretString::from(SANDBOX_APP_KEY.to_owned());
    if settings.mail.transport == "log" {
        settings.mail.transport = "file".into();
    }
    let mail_dir = (settings.mail.transport == "file").then(|| settings.mail.file_dir.clone());
    let state = AppState::build(settings, true).await?;
    seed(&state).await?;
    if state.settings.worker.embedded {
        crate::startup::spawn_embedded_worker(state.clone());
    }
    let app = Application::build(state).await?;
    let public_url = if app.state().settings.public_url == Settings::default().public_url {
        format!("http://127.0.0.1:{}", app.port())
    } else {
        app.state().settings.public_url.clone()
    };
    Ok(Demo {
        app,
        sandbox,
        tenant,
        public_url,
        mail_dir,
    })
}

/// Where the demo keeps its generated keys, so a restart can still open the secrets it sealed.
pub const DEMO_KEYS_FILE: &str = "titanbridge-demo.keys";

/// Reads the demo's keys from `path`, generating and saving them (mode 0600) the first time.
fn demo_keys(path: &std::path::Path) -> anyhow::Result<(SecretString, SecretString)> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if let (Some(enc), Some(session)) = (lines.next(), lines.next()) {
            return Ok((
                SecretString::from(enc.to_owned()),
                SecretString::from(session.to_owned()),
            ));
        }
    }
    let (enc, session) = (random_key(32), random_key(64));
    std::fs::write(path, format!("{enc}\n{session}\n"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok((SecretString::from(enc), SecretString::from(session)))
}

async fn seed(state: &AppState) -> anyhow::Result<()> {
    let store = state.store.db();
    if users::find_by_email(store, OPS_EMAIL).await?.is_none() {
        users::create(
            store,
            NewUser {
                partner_id: None,
                email: OPS_EMAIL,
                name: "Olga Ops",
                role: Role::Ops,
                password: &SecretString::from(OPS_PASSWORD.to_owned()),
            },
        )
        .await?;
    }
    if users::find_by_email(store, PARTNER_EMAIL).await?.is_none() {
        let partner = partners::create(store, "Acme Heating & Air", "acme").await?;
        users::create(
            store,
            NewUser {
                partner_id: Some(partner.id),
                email: PARTNER_EMAIL,
                name: "Alice Admin",
                role: Role::PartnerAdmin,
                password: &SecretString::from(PARTNER_PASSWORD.to_owned()),
            },
        )
        .await?;
    }
    Ok(())
}

/// Runs the demo until the process is stopped, after printing URLs and sign-in details.
pub async fn run_demo(settings: Settings) -> anyhow::Result<()> {
    let demo = prepare_demo(settings).await?;
    let url = &demo.public_url;
    println!("titanbridge demo is running\n");
    println!("  Open            {url}");
    println!("  Partner admin   {PARTNER_EMAIL} / {PARTNER_PASSWORD}");
    println!(
        "                  → Settings › Integrations › ServiceTitan: submit Tenant ID {}",
        demo.tenant.tenant_id
    );
    println!("  Ops             {OPS_EMAIL} / {OPS_PASSWORD}");
    println!("                  → {url}/ops: approve the request");
    match &demo.mail_dir {
        Some(dir) => println!(
            "  Email           written as .eml files to ./{dir}: open the newest one for the Continue Setup link"
        ),
        None => println!("  Email           sent with the configured transport"),
    }
    println!("  ServiceTitan    sandbox at {}", demo.sandbox.base_url);
    println!(
        "                  Client ID {} / Client Secret {} (Tenant ID {})",
        demo.tenant.client_id, demo.tenant.client_secret, demo.tenant.tenant_id
    );
    if let Some(acme) = partners::find_by_slug(demo.app.state().store.db(), "acme").await? {
        let token = partners::rotate_api_token(demo.app.state().store.db(), acme.id).await?;
        println!("  Platform API    bearer token for Acme (new each start): {token}");
        println!(
            "                  once the integration is active, enrol a member (README: Platform API):"
        );
        println!(
            r#"                  curl -X PUT {url}/api/v1/platform/members/m-1 -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{"first_name":"Pat","last_name":"Lee","plan_code":"plus","locations":[{{"id":"home","street":"1 Elm St","city":"Austin","state":"TX","zip":"78701"}}]}}'"#
        );
        println!(
            "  Sandbox admin   {}/_sandbox/tenants/{} shows what landed in \"ServiceTitan\"",
            demo.sandbox.base_url, demo.tenant.tenant_id
        );
    }
    println!("\nPress Ctrl-C to stop.");
    demo.app.run_until_stopped().await?;
    demo.sandbox.stop().await;
    Ok(())
}
