//! The `titanbridge` command: serve, worker, migrate, demo, sandbox, backfill.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use titanbridge::config::Settings;
use titanbridge::startup::{AppState, Application};
use titanbridge::store::Store;

#[derive(Parser)]
#[command(
    name = "titanbridge",
    version,
    about = "ServiceTitan integration backend"
)]
struct Cli {
    /// TOML configuration file (environment variables TITANBRIDGE_* override it).
    #[arg(long, global = true, env = "TITANBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (and, unless disabled, an embedded worker).
    Serve {
        /// Do not run migrations on start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// The demo: SQLite, the built-in ServiceTitan sandbox, demo users, mail to ./mail-out.
    Demo,
    /// Run the ServiceTitan sandbox on its own (for `environment = sandbox` deployments).
    Sandbox {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: String,
        /// Tenant to create at start, as TENANT_ID:CLIENT_ID:CLIENT_SECRET (repeatable).
        #[arg(long = "tenant", value_parser = parse_tenant_seed)]
        tenants: Vec<titanbridge::sandbox::TenantSeed>,
        /// Calls per second per tenant before 429.
        #[arg(long, default_value_t = 60)]
        rate_limit: u32,
    },
    /// Run a sync worker (tasks, pollers) until Ctrl-C. Any number may share one PostgreSQL.
    Worker {
        /// Do not run migrations on start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Run (or resume) the full sync of one integration, with a progress bar.
    Backfill {
        /// The integration's ID (shown in the ops console).
        #[arg(long)]
        integration: i64,
    },
    /// Accounts: create partners and users, issue platform API tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Apply (or with --down, roll back) database migrations.
    Migrate {
        /// Roll back every migration.
        #[arg(long)]
        down: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a partner (a contractor company).
    CreatePartner {
        #[arg(long)]
        name: String,
        /// Short unique name, e.g. `acme`.
        #[arg(long)]
        slug: String,
    },
    /// Create a user. The password is read from TITANBRIDGE_NEW_PASSWORD or the first line of stdin.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// `ops` or `partner-admin`.
        #[arg(long)]
        role: String,
        /// The partner's slug (partner admins only).
        #[arg(long)]
        partner: Option<String>,
    },
    /// Issue (or replace) a partner's platform API bearer token; printed once.
    IssueApiToken {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

async fn admin(settings: Settings, cmd: AdminCommand) -> anyhow::Result<()> {
    use titanbridge::store::{partners, users};
    let store = Store::connect(&settings.database_url, None).await?;
    store.migrate().await?;
    let partner_by_slug = |slug: String| {
        let store = store.clone();
        async move {
            partners::find_by_slug(store.db(), &slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no partner with slug '{slug}'"))
        }
    };
    match cmd {
        AdminCommand::CreatePartner { name, slug } => {
            if partners::find_by_slug(store.db(), &slug).await?.is_some() {
                anyhow::bail!("a partner with slug '{slug}' already exists");
            }
            let p = partners::create(store.db(), name.trim(), slug.trim()).await?;
            println!("partner {} created (slug {})", p.id, p.slug);
        }
        AdminCommand::CreateUser {
            email,
            name,
            role,
            partner,
        } => {
            let email = titanbridge::domain::ids::Email::parse(&email)
                .map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let (role, partner_id) = match (role.as_str(), partner) {
                ("ops", None) => (users::Role::Ops, None),
                ("ops", Some(_)) => anyhow::bail!("--partner is only for partner admins"),
                ("partner-admin", Some(slug)) => (
                    users::Role::PartnerAdmin,
                    Some(partner_by_slug(slug).await?.id),
                ),
                ("partner-admin", None) => {
                    anyhow::bail!("--partner is required for partner admins")
                }
                (other, _) => anyhow::bail!("--role: '{other}' is not ops or partner-admin"),
            };
            let password = match std::env::var("TITANBRIDGE_NEW_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if password.chars().count() < 12 {
                anyhow::bail!("password: use at least 12 characters");
            }
            if users::find_by_email(store.db(), email.as_str())
                .await?
                .is_some()
            {
                anyhow::bail!("a user with email {} already exists", email.as_str());
            }
            let u = users::create(
                store.db(),
                users::NewUser {
                    partner_id,
                    email: email.as_str(),
                    name: name.trim(),
                    role,
                    password: &secrecy::SecretString::from(password),
                },
            )
            .await?;
            println!("user {} created ({})", u.id, u.role);
        }
        AdminCommand::IssueApiToken { partner } => {
            let p = partner_by_slug(partner).await?;
            let token = partners::rotate_api_token(store.db(), p.id).await?;
            println!("{token}");
            eprintln!(
                "platform API token for {} (shown once; the old one no longer works)",
                p.slug
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: the message names the setting or the resource.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    titanbridge::telemetry::init(settings.log_format == "json", std::io::stdout);
    match cli.command {
        Command::Serve { no_migrate } => {
            let migrate = settings.migrate_on_start && !no_migrate;
            let state = AppState::build(settings, migrate).await?;
            if state.settings.worker.embedded {
                titanbridge::startup::spawn_embedded_worker(state.clone());
            }
            let app = Application::build(state).await?;
            tracing::info!(port = app.port(), "titanbridge listening");
            app.run_until_stopped().await?;
        }
        Command::Demo => titanbridge::demo::run_demo(settings).await?,
        Command::Sandbox {
            bind,
            mut tenants,
            rate_limit,
        } => {
            if tenants.is_empty() {
                tenants.push(titanbridge::sandbox::TenantSeed::demo());
            }
            let app_key = secrecy::ExposeSecret::expose_secret(&settings.servicetitan.app_key);
            let cfg = titanbridge::sandbox::SandboxConfig {
                app_key: if app_key.is_empty() {
                    "sandbox-app-key".into()
                } else {
                    app_key.to_owned()
                },
                rate_limit_per_sec: rate_limit,
                tenants,
                ..Default::default()
            };
            titanbridge::sandbox::run_cli(&bind, cfg).await?;
        }
        // --- sync worker ---
        Command::Worker { no_migrate } => {
            let migrate = settings.migrate_on_start && !no_migrate;
            let state = AppState::build(settings, migrate).await?;
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            titanbridge::sync::run_worker(state, shutdown).await?;
        }
        Command::Backfill { integration } => {
            let state = AppState::build(settings, true).await?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} backfill [{bar:40}] {pos}/{len} records ({percent}%) {elapsed} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            titanbridge::sync::run_backfill(state, integration, |p| {
                bar.set_length(p.total.max(p.read));
                bar.set_position(p.read);
                let eta = p
                    .eta()
                    .map_or_else(|| "?".to_owned(), |d| format!("{}s", d.as_secs()));
                bar.set_message(format!(
                    "read {}, applied {}, {:.0} records/s, ETA {eta}",
                    p.read,
                    p.applied,
                    p.rate()
                ));
            })
            .await?;
            bar.finish();
            println!("backfill of integration {integration} complete");
        }
        Command::Admin(cmd) => admin(settings, cmd).await?,
        Command::Migrate { down } => {
            let store = Store::connect(&settings.database_url, None).await?;
            if down {
                store.migrate_down_all().await?;
                println!("rolled back every migration");
            } else {
                store.migrate().await?;
                println!("migrations applied");
            }
        }
    }
    Ok(())
}

fn parse_tenant_seed(s: &str) -> Result<titanbridge::sandbox::TenantSeed, String> {
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(t), Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok(titanbridge::sandbox::TenantSeed {
                tenant_id: t
                    .parse()
                    .map_err(|_| format!("tenant ID '{t}' is not a number"))?,
                client_id: id.to_owned(),
                client_secret: secret.to_owned(),
            })
        }
        _ => Err("expected TENANT_ID:CLIENT_ID:CLIENT_SECRET".into()),
    }
}
