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
    /// Run a sync worker (tasks, pollers) until Ctrl-C. Any number may share one PostgreSQL.
    Worker {
        /// Do not run migrations on start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply (or with --down, roll back) database migrations.
    Migrate {
        /// Roll back every migration.
        #[arg(long)]
        down: bool,
    },
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
            let app = Application::build(state).await?;
            tracing::info!(port = app.port(), "titanbridge listening");
            app.run_until_stopped().await?;
        }
        // --- sync worker (added by the sync branch; the lead may restyle) ---
        Command::Worker { no_migrate } => {
            let migrate = settings.migrate_on_start && !no_migrate;
            let state = AppState::build(settings, migrate).await?;
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            titanbridge::sync::run_worker(state, shutdown).await?;
        }
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
