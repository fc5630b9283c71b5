//! `bando`: the command line of the platform.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gis_core::crs::parse_crs_ref;
use gis_core::db::{ClusterOptions, Database, DbLocation};
use tile_server::app::{app, AppState, Limits};
use tile_server::config::{Config, RawConfig};

/// bando — the province's spatial data platform and vector tile server.
#[derive(Debug, Parser)]
#[command(name = "bando", version, about)]
struct Cli {
    /// bando's state directory; the private PostgreSQL cluster lives in DIR/pg
    /// (ignored when DATABASE_URL is set). Default: ./.bando
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (landing page, /health, /metrics, /layers, /crs).
    Serve {
        /// Listen address. Default: 127.0.0.1:8080
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Database schema.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Write the deterministic sample data set as real files (GeoPackage) through GDAL.
    Sample {
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed: the same seed writes the same data.
        #[arg(long, default_value_t = 2025)]
        seed: u64,
    },
    /// Import a file into a layer.
    Import {
        /// The file to read (any format GDAL reads).
        path: PathBuf,
        /// Target layer (today: communes).
        #[arg(long)]
        layer: String,
        /// CRS of the file when it carries none, e.g. EPSG:9212.
        #[arg(long, value_name = "EPSG:N")]
        srs: Option<String>,
    },
    /// List the registered layers.
    Layers,
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Apply every pending migration.
    Migrate,
    /// Show applied and pending migrations.
    Status,
    /// Stop the private cluster running on the data directory (one left by a killed bando).
    Stop,
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bando: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bando: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, skipping a cause whose text the message before already contains.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("BANDO_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load_config(cli: &Cli, listen: Option<&String>) -> Result<Config> {
    let mut raw = match &cli.config {
        Some(path) => RawConfig::from_file(path)?,
        None => RawConfig::default(),
    }
    .with_env(|k| std::env::var(k).ok())?;
    if let Some(dir) = &cli.data_dir {
        raw.database.data_dir = Some(dir.clone());
    }
    if let Some(listen) = listen {
        raw.server.listen = Some(listen.clone());
    }
    Ok(raw.check()?)
}

async fn open_db(config: &Config) -> Result<Database> {
    let location = match &config.database_url {
        Some(url) => DbLocation::Url(url.clone()),
        None => DbLocation::Private(ClusterOptions {
            data_dir: config.data_dir.clone(),
            tcp: false,
        }),
    };
    let db = Database::open(&location, config.max_connections).await?;
    tracing::info!(database = db.target(), "database open");
    Ok(db)
}

/// Runs `f` with an open, migrated database and always closes it (stopping the private cluster
/// this process started), whatever `f` returned.
async fn with_db<T>(config: &Config, f: impl AsyncFnOnce(&Database) -> Result<T>) -> Result<T> {
    let db = open_db(config).await?;
    let result = async {
        tile_server::migrations().run(&db.pool).await?;
        f(&db).await
    }
    .await;
    let closed = db.close().await;
    let value = result?;
    closed?;
    Ok(value)
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Serve { listen } => {
            let config = load_config(&cli, listen.as_ref())?;
            with_db(&config, async |db| serve(&config, db).await).await
        }
        Command::Db {
            action: DbAction::Stop,
        } => {
            let config = load_config(&cli, None)?;
            if config.database_url.is_some() {
                anyhow::bail!("DATABASE_URL names an existing server; bando only stops its own private cluster");
            }
            let stopped = gis_core::db::PrivateCluster::stop_running(&config.data_dir)?;
            let state = if stopped {
                "stopped"
            } else {
                "was not running"
            };
            println!("private cluster in {}: {state}", config.data_dir.display());
            Ok(())
        }
        Command::Db { action } => {
            let config = load_config(&cli, None)?;
            let db = open_db(&config).await?;
            let migrations = tile_server::migrations();
            let result = match action {
                DbAction::Migrate => migrations.run(&db.pool).await.map_err(anyhow::Error::from),
                DbAction::Status | DbAction::Stop => Ok(()),
            };
            let status = migrations.status(&db.pool).await;
            db.close().await?;
            result?;
            for m in status? {
                let mark = if m.applied { "applied" } else { "pending" };
                println!("{:>5}  {:<8} {}", m.version, mark, m.description);
            }
            Ok(())
        }
        Command::Sample { out, seed } => {
            let set = importers::sample::write_sample(out, *seed)?;
            println!(
                "wrote {} communes to {}",
                set.commune_count,
                set.communes.display()
            );
            Ok(())
        }
        Command::Import { path, layer, srs } => {
            let srs = srs
                .as_deref()
                .map(parse_crs_ref)
                .transpose()
                .context("--srs")?;
            if layer != "communes" {
                anyhow::bail!(
                    "layer \"{layer}\" cannot be imported yet; importable layers: communes"
                );
            }
            let config = load_config(&cli, None)?;
            with_db(&config, async |db| {
                let outcome = importers::communes::import_communes(&db.pool, path, srs).await?;
                println!(
                    "communes: read {}, imported {} from {}",
                    outcome.read,
                    outcome.imported,
                    path.display()
                );
                Ok(())
            })
            .await
        }
        Command::Layers => {
            let registry = layers::registry()?;
            for layer in registry.iter() {
                let storage = layer.storage();
                println!(
                    "{:<16} {:<28} {}.{} EPSG:{}",
                    layer.id(),
                    layer.title_vi(),
                    storage.schema,
                    storage.table,
                    storage.srid
                );
            }
            Ok(())
        }
    }
}

async fn serve(config: &Config, db: &Database) -> Result<()> {
    let state = AppState::new(db.pool.clone())?;
    gis_core::layer::publish(&state.layers, &db.pool).await?;
    let router = app(
        state,
        Limits {
            request_timeout: config.request_timeout,
            body_limit_bytes: config.body_limit_bytes,
        },
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "bando listening");
    println!("bando: serving http://{addr}/");
    axum::serve(listener, router)
        .with_graceful_shutdown(tile_server::shutdown_signal())
        .await?;
    tracing::info!("server stopped");
    Ok(())
}
