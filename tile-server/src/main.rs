//! `bando`: the command line of the platform.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gis_core::bulk::{InvalidPolicy, MergeMode};
use gis_core::crs::parse_crs_ref;
use gis_core::db::{ClusterOptions, Database, DbLocation};
use tile_server::app::{AppState, Limits};
use tile_server::config::{Config, RawConfig};

// mimalloc: a warm tile answer makes a few dozen small allocations, and glibc's malloc was
// ~7% of a warm-tile profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (landing page, /health, /metrics, /layers, /crs).
    Serve {
        /// Listen address. Default: 127.0.0.1:8080
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Print an access token of a demo user from the development issuer (`[auth] dev_issuer`),
    /// for trying the API with curl and for benchmarks. Give the same `--listen` (or
    /// `server.public_url`) as `serve`: the token names that server's issuer.
    DevToken {
        /// Demo user (`can_bo_dia_chinh`, `chuyen_vien_quy_hoach`, `van_hanh_ioc`, `quan_tri`).
        username: String,
        /// The address `serve` listens on. Default: 127.0.0.1:8080
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Publish realistic readings for the stations' datastreams over MQTT (as devices do) to
    /// the broker bando uses — `[ioc] mqtt_url`, or the private broker of the `bando serve`
    /// running in this data directory — with threshold crossings now and then, so the IOC
    /// display is alive.
    SimulateSensors {
        /// Seconds between rounds (one reading per datastream per round).
        #[arg(long, default_value_t = 2.0)]
        interval: f64,
        /// Rounds to publish (0: until stopped).
        #[arg(long, default_value_t = 0)]
        rounds: u64,
        /// Rounds between threshold crossings (0: none).
        #[arg(long, default_value_t = 20)]
        episode_every: u64,
        /// Seed of the readings.
        #[arg(long, default_value_t = 2025)]
        seed: u64,
    },
    /// IOC device tokens: a Thing's bearer token for posting its observations (what
    /// `/admin/device-tokens` does, for whoever runs bando on the server; issues and revocations
    /// are in the audit log, never the token).
    DeviceToken {
        #[command(subcommand)]
        action: DeviceTokenAction,
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
        /// Number of parcels (512 to 5,000,000).
        #[arg(long, default_value_t = 20_000)]
        parcels: u64,
        /// About how many water pipes (mains, branches and service lines; meters are spaced
        /// along the streets to reach it, e.g. 100000). Default: a meter every 100 m, about
        /// 8,000 pipes.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=200_000))]
        water_pipes: Option<u64>,
        /// Also import every written file into its layer.
        #[arg(long)]
        import: bool,
        /// Write only next year's delivery of the parcels instead (same seed and count): 1 %
        /// changed, 0.5 % renumbered (gone + new), and the exact counts in
        /// `parcels_next_year.json`.
        #[arg(long, conflicts_with = "import")]
        next_year: bool,
    },
    /// Import a file, a folder (every readable layer in it) or a zip into a layer.
    Import {
        /// What to read (any format GDAL reads: Shapefile, GeoPackage, GeoJSON, DGN v7, DXF,
        /// KML, CSV with coordinate columns, FileGDB).
        path: PathBuf,
        /// Target layer: parcels, map_sheets, communes, planning_zones, red_lines, roads, … or
        /// one added before with --new-layer.
        #[arg(
            long,
            required_unless_present = "new_layer",
            conflicts_with = "new_layer"
        )]
        layer: Option<String>,
        /// Make a new layer with this id from the file's own fields and geometry type, then
        /// import into it (needs --sector; running servers pick it up without a restart).
        #[arg(long, value_name = "ID", requires = "sector")]
        new_layer: Option<String>,
        /// Sector of the new layer: cadastre, planning, transport, water, power, environment,
        /// health, education, tourism, security, services.
        #[arg(long)]
        sector: Option<String>,
        /// Vietnamese title of the new layer.
        #[arg(long)]
        title: Option<String>,
        /// English title of the new layer.
        #[arg(long)]
        title_en: Option<String>,
        /// Geometry type of the new layer when the file does not say: point, line, polygon.
        #[arg(long)]
        geometry_type: Option<String>,
        /// Fields of the new layer that hold personal data (only authorised readers see them).
        #[arg(long, value_name = "FIELD[,FIELD…]", value_delimiter = ',')]
        restricted: Vec<String>,
        /// One value for every feature, e.g. --set commune_code=25220 for a commune's file
        /// without a commune field (repeatable).
        #[arg(long, value_name = "COLUMN=VALUE")]
        set: Vec<String>,
        /// Planning layers: the plan version the features belong to — NEW makes a draft plan
        /// (named by --plan-name), an id adds to that draft. Approve it with `bando plan approve`.
        #[arg(long, value_name = "NEW|ID")]
        plan: Option<String>,
        /// Name of the draft plan --plan NEW makes. Default: the file's name.
        #[arg(long, value_name = "NAME", requires = "plan")]
        plan_name: Option<String>,
        /// Level of the draft plan --plan NEW makes: general, zoning (1:2000), detailed (1:500).
        #[arg(long, default_value = "detailed", requires = "plan")]
        plan_level: String,
        /// The approved plan the draft --plan NEW amends or replaces (superseded on approval).
        #[arg(long, value_name = "ID", requires = "plan")]
        replaces: Option<i64>,
        /// CRS of sources without one (or to override theirs), e.g. EPSG:9212.
        #[arg(long, value_name = "EPSG:N")]
        srs: Option<String>,
        /// Text encoding of the attributes: auto, utf8, tcvn3, vni, cp1258.
        #[arg(long, default_value = "auto")]
        encoding: String,
        /// TOML file mapping delivered fields to canonical columns.
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// replace: the layer becomes the delivery; upsert: add and update by natural key.
        #[arg(long, default_value = "upsert", value_parser = ["replace", "upsert"])]
        mode: String,
        /// Invalid geometry: repair (reported) or reject.
        #[arg(long, default_value = "repair", value_parser = ["repair", "reject"])]
        invalid: String,
        /// Validate and report; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Axis order: auto (detect), east-north, or north-east (X = northing, as Vietnamese
        /// survey tables write coordinates).
        #[arg(long, default_value = "auto")]
        axes: String,
        /// Where to write rejected features (CSV). Default: LAYER.rejects.csv next to PATH.
        #[arg(long, value_name = "FILE")]
        rejects: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plans as objects with versions: list, approve a draft, attach a document.
    Plan {
        #[command(subcommand)]
        action: PlanAction,
    },
    /// List the built-in layers (no database needed; `bando layer list` adds the added ones).
    Layers,
    /// Layers added without code: list, show, change or drop them.
    Layer {
        #[command(subcommand)]
        action: LayerAction,
    },
    /// Utility networks: `bando network check water|power` (the quality report as GeoJSON).
    Network {
        #[command(subcommand)]
        action: NetworkAction,
    },
    /// The persistent tile store: `bando tiles seed --layer parcels --max-zoom 16`,
    /// `bando tiles status`.
    Tiles {
        #[command(subcommand)]
        action: TilesAction,
    },
    /// Pack the tiles of an area into an MBTiles or PMTiles file for offline use (mobile maps).
    Export {
        /// Area: west,south,east,north (in --bbox-crs).
        #[arg(long, value_name = "W,S,E,N", allow_hyphen_values = true)]
        bbox: String,
        /// CRS of --bbox, e.g. EPSG:9212. Default: CRS84 (longitude, latitude).
        #[arg(long, value_name = "EPSG:N")]
        bbox_crs: Option<String>,
        /// Lowest zoom.
        #[arg(long)]
        minzoom: u8,
        /// Highest zoom.
        #[arg(long)]
        maxzoom: u8,
        /// Layers, comma-separated (each tile holds all of them).
        #[arg(long, value_name = "ID[,ID…]")]
        layers: String,
        /// Write more than 500,000 tiles.
        #[arg(long)]
        force: bool,
        /// The pack: OUT.mbtiles or OUT.pmtiles.
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PlanAction {
    /// Every plan, drafts included.
    List,
    /// Approve a draft: it comes into force and supersedes the plan it replaces, in one
    /// transaction; running servers drop the affected tiles.
    Approve {
        /// The draft's id.
        id: i64,
        /// Approving decision number, e.g. 1234/QĐ-UBND.
        #[arg(long)]
        decision: String,
        /// Decision date (YYYY-MM-DD). Default: today.
        #[arg(long)]
        decision_date: Option<String>,
        /// Approving authority, e.g. "UBND tỉnh Đồng Nai".
        #[arg(long)]
        authority: Option<String>,
        /// In force until (YYYY-MM-DD).
        #[arg(long)]
        valid_until: Option<String>,
    },
    /// Withdraw a plan: a draft leaves review; an approved plan in force is annulled and the
    /// plan it superseded comes back into force, in one transaction; running servers drop the
    /// affected tiles.
    Withdraw {
        /// The plan's id.
        id: i64,
        /// The decision annulling it, e.g. "567/QĐ-UBND" (required for an approved plan).
        #[arg(long)]
        decision: Option<String>,
        /// Decision date (YYYY-MM-DD).
        #[arg(long)]
        decision_date: Option<String>,
    },
    /// Attach a document (the decision as PDF, …) to a plan: with `[planning] documents_dir`
    /// the file must lie under it and its path is stored; otherwise its bytes are stored in the
    /// database.
    Document {
        /// The plan's id.
        id: i64,
        /// The file.
        file: PathBuf,
        /// Title. Default: the file's name.
        #[arg(long)]
        title: Option<String>,
        /// Store the bytes in the database even when a documents directory is configured.
        #[arg(long)]
        in_database: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceTokenAction {
    /// Make a token for a Thing: printed once on standard output (only its SHA-256 is kept).
    Issue {
        /// The Thing's id (`/sta/v1.1/Things`).
        #[arg(long)]
        thing: i64,
        /// What the token is for (at most 200 characters), e.g. the device's serial number.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Every token, newest first, without secrets: id, Thing, hint, label, made, revoked, used.
    List {
        /// As JSON (one array) rather than a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token (by its id in `list`): refused from now on, kept for the record.
    Revoke {
        /// The token's id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Apply every pending migration.
    Migrate,
    /// Show applied and pending migrations.
    Status,
    /// Start the private cluster and leave it running (for psql, ogr2ogr, benchmarks); prints
    /// its connection URL. `bando db stop` stops it.
    Start {
        /// Also listen on 127.0.0.1 at a free port (default: Unix socket only).
        #[arg(long)]
        tcp: bool,
    },
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
        tile_server::migrate(&db.pool).await?;
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
        Command::DevToken { username, listen } => {
            let config = load_config(&cli, listen.as_ref())?;
            let tile_server::config::AuthSettings::Dev(dev) = &config.auth else {
                anyhow::bail!(
                    "the development issuer is off: set [auth] dev_issuer = true or BANDO_AUTH_DEV_ISSUER=true"
                );
            };
            let issuer = auth::DevIssuer::open(dev.clone())?;
            println!("{}", issuer.issue(username)?);
            Ok(())
        }
        Command::SimulateSensors {
            interval,
            rounds,
            episode_every,
            seed,
        } => {
            let config = load_config(&cli, None)?;
            if !(interval.is_finite() && (0.01..=3600.0).contains(interval)) {
                anyhow::bail!("--interval is 0.01 to 3600 seconds");
            }
            let broker = match &config.ioc.broker {
                Some(b) => b.clone(),
                None => ioc::broker::PrivateBroker::running_in(&config.data_dir).context(
                    "no MQTT broker: set [ioc] mqtt_url, or start `bando serve` (its private broker) with this data directory first",
                )?,
            };
            with_db(&config, async |db| {
                ioc::seed::seed_stations(&db.pool).await?;
                let streams = ioc::simulate::streams(&db.pool).await?;
                if streams.is_empty() {
                    anyhow::bail!("no datastreams to feed: import the environment stations first (bando sample --import)");
                }
                println!(
                    "bando: publishing readings of {} datastreams to {} every {interval} s",
                    streams.len(),
                    broker.url()
                );
                let publisher = ioc::mqtt::Publisher::connect(
                    &broker,
                    &format!("bando-simulator-{}", std::process::id()),
                );
                let mut sim = ioc::simulate::Simulator::new(streams, *seed);
                sim.episode_every = *episode_every;
                sim.round_seconds = *interval;
                let run = ioc::simulate::run(
                    &publisher,
                    sim,
                    std::time::Duration::from_secs_f64(*interval),
                    *rounds,
                );
                tokio::select! {
                    published = run => {
                        let published = published?;
                        // QoS 1: the broker has every message before the simulator says so.
                        if !publisher
                            .settle(published, std::time::Duration::from_secs(30))
                            .await
                        {
                            anyhow::bail!("the broker did not acknowledge all {published} readings within 30 s");
                        }
                        println!("bando: published {published} readings");
                    }
                    _ = tile_server::shutdown_signal() => println!("bando: simulator stopped"),
                }
                Ok(())
            })
            .await
        }
        Command::DeviceToken { action } => {
            let config = load_config(&cli, None)?;
            with_db(&config, async |db| {
                device_token_command(&db.pool, action).await
            })
            .await
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
        Command::Db {
            action: DbAction::Start { tcp },
        } => {
            let config = load_config(&cli, None)?;
            if config.database_url.is_some() {
                anyhow::bail!("DATABASE_URL names an existing server; bando only starts its own private cluster");
            }
            let cluster = gis_core::db::PrivateCluster::start(&ClusterOptions {
                data_dir: config.data_dir.clone(),
                tcp: *tcp,
            })
            .await?;
            let pool = sqlx::PgPool::connect_with(cluster.connect_options()).await?;
            tile_server::migrate(&pool).await?;
            pool.close().await;
            match cluster.tcp_url(gis_core::db::cluster::CLUSTER_DATABASE) {
                Some(url) => println!("{url}"),
                None => println!(
                    "private cluster running in {} (Unix socket; use --tcp for a URL)",
                    cluster.pgdata().display()
                ),
            }
            Ok(())
        }
        Command::Db { action } => {
            let config = load_config(&cli, None)?;
            let db = open_db(&config).await?;
            let migrations = tile_server::migrations();
            let result = match action {
                DbAction::Migrate => tile_server::migrate(&db.pool).await,
                DbAction::Status | DbAction::Stop | DbAction::Start { .. } => Ok(()),
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
        Command::Sample {
            out,
            seed,
            parcels,
            water_pipes,
            import,
            next_year,
        } => {
            if *next_year {
                let counts = sample::write_next_year(
                    out,
                    &sample::SampleOptions {
                        seed: *seed,
                        parcels: *parcels,
                    },
                    &sample::NextYear::default(),
                )?;
                println!(
                    "wrote next year's {} parcels to {}: {} changed, {} new, {} gone, {} unchanged",
                    counts.delivered,
                    out.display(),
                    counts.changed,
                    counts.new,
                    counts.gone,
                    counts.unchanged
                );
                return Ok(());
            }
            let set = sample::write_sample_sized(
                out,
                &sample::SampleOptions {
                    seed: *seed,
                    parcels: *parcels,
                },
                &sample::WaterOptions {
                    pipes: *water_pipes,
                },
            )?;
            println!(
                "wrote {} communes to {} and {} files with {} parcels to {}",
                set.commune_count,
                set.communes.display(),
                set.files.len(),
                set.parcel_count,
                out.display()
            );
            if !*import {
                return Ok(());
            }
            let config = load_config(&cli, None)?;
            with_db(&config, async |db| {
                let mut done = std::collections::BTreeSet::new();
                for file in set.files.iter().filter(|f| !f.copy) {
                    if !done.insert((file.path.clone(), file.layer)) {
                        continue;
                    }
                    let mut opts = importers::pipeline::ImportOptions::new(file.layer);
                    opts.overlap_tolerance_m2 = Some(config.land.overlap_m2);
                    // Only the CSV lacks a CRS of its own.
                    if file.path.extension().is_some_and(|e| e == "csv") {
                        opts.srs = Some(file.srid);
                    }
                    let summary = importers::pipeline::import(&db.pool, &file.path, &opts).await?;
                    let m = summary.merged.unwrap_or_default();
                    println!(
                        "  {:<16} {:>8} read, {:>8} new, {:>7} updated, {:>5} rejected  ({})",
                        file.layer,
                        summary.read,
                        m.inserted,
                        m.updated,
                        summary.rejected,
                        file.path.display()
                    );
                }
                Ok(())
            })
            .await
        }
        Command::Plan { action } => {
            let config = load_config(&cli, None)?;
            let documents_dir = config.plan_documents_dir.clone();
            with_db(&config, async |db| {
                plan_command(&db.pool, action, documents_dir.as_deref()).await
            })
            .await
        }
        Command::Layer { action } => {
            let config = load_config(&cli, None)?;
            with_db(&config, async |db| layer_command(&db.pool, action).await).await
        }
        Command::Tiles { action } => {
            let config = load_config(&cli, None)?;
            tiles_command(&config, action).await
        }
        Command::Network { action } => {
            let config = load_config(&cli, None)?;
            let settings = config.networks;
            with_db(&config, async |db| {
                network_command(&db.pool, settings, action).await
            })
            .await
        }
        Command::Import {
            path,
            layer,
            new_layer,
            sector,
            title,
            title_en,
            geometry_type,
            restricted,
            set,
            plan,
            plan_name,
            plan_level,
            replaces,
            srs,
            encoding,
            mapping,
            mode,
            invalid,
            dry_run,
            rejects,
            json,
            axes,
        } => {
            let kind = layer
                .clone()
                .or_else(|| new_layer.clone())
                .unwrap_or_default();
            let mut opts = importers::pipeline::ImportOptions::new(&kind);
            opts.set = set
                .iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                        .ok_or_else(|| anyhow::anyhow!("--set {pair}: write COLUMN=VALUE"))
                })
                .collect::<Result<_>>()?;
            let new = match new_layer {
                Some(id) => Some(importers::new_layer::NewLayer {
                    id: id.clone(),
                    sector: sector.clone().unwrap_or_default(),
                    title: title.clone(),
                    title_en: title_en.clone(),
                    geometry: geometry_type
                        .as_deref()
                        .map(importers::new_layer::parse_geometry)
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("--geometry-type: {e}"))?,
                    restricted: restricted.clone(),
                }),
                None => None,
            };
            opts.srs = srs
                .as_deref()
                .map(parse_crs_ref)
                .transpose()
                .context("--srs")?;
            opts.encoding = encoding
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--encoding: {e}"))?;
            opts.mapping = mapping.clone();
            opts.mode = if mode == "replace" {
                MergeMode::Replace
            } else {
                MergeMode::Upsert
            };
            opts.invalid = if invalid == "reject" {
                InvalidPolicy::Reject
            } else {
                InvalidPolicy::Repair
            };
            opts.dry_run = *dry_run;
            opts.axes = axes
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--axes: {e}"))?;
            opts.rejects_path = rejects.clone();
            opts.progress = !json;
            let config = load_config(&cli, None)?;
            // The owner's overlap checks use the configured `[land] overlap_tolerance_m2`.
            opts.overlap_tolerance_m2 = Some(config.land.overlap_m2);
            with_db(&config, async |db| {
                if let Some(new) = &new {
                    let definition = importers::new_layer::definition_from_file(path, new)?;
                    layers::added::save(&db.pool, &definition, &opts.imported_by).await?;
                    println!(
                        "layer {} ({}, {} columns, {}) created in sector {}",
                        definition.id,
                        definition.title_vi,
                        definition.columns.len(),
                        definition.geometry.as_str(),
                        definition.sector
                    );
                }
                let mut opts = opts;
                if let Some(plan) = plan {
                    let id = plan_for_import(
                        &db.pool,
                        &kind,
                        plan,
                        plan_name.as_deref(),
                        plan_level,
                        *replaces,
                        path,
                        *dry_run,
                    )
                    .await?;
                    if let Some(id) = id {
                        opts.set.push(("plan_id".to_string(), id.to_string()));
                    }
                }
                let summary = importers::pipeline::import(&db.pool, path, &opts).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&summary)?);
                } else {
                    print_summary(&summary);
                }
                Ok(())
            })
            .await
        }
        Command::Export {
            bbox,
            bbox_crs,
            minzoom,
            maxzoom,
            layers,
            force,
            out,
        } => {
            let registry = std::sync::Arc::new(layers::registry()?);
            // Every argument is checked before a database is opened.
            let request = tiles::export::ExportRequest::new(
                &registry,
                bbox,
                bbox_crs.as_deref(),
                *minzoom,
                *maxzoom,
                layers,
                out,
                *force,
            )?;
            let config = load_config(&cli, None)?;
            with_db(&config, async |db| {
                let s =
                    tiles::export::export(&db.pool, registry, &request, config.tile_store.clone())
                        .await?;
                println!(
                    "wrote {} tiles ({} bytes, {} from the tile store) of {} addressed to {}",
                    s.written,
                    s.tile_bytes,
                    s.from_store,
                    s.addressed,
                    s.path.display()
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

/// What `bando tiles …` can do.
#[derive(Subcommand, Debug)]
enum TilesAction {
    /// Render every public tile with data of a layer into the tile store (those stored already
    /// are kept), a few at a time.
    Seed {
        /// The layer (seedable: static data, public).
        #[arg(long)]
        layer: String,
        /// Highest zoom rendered.
        #[arg(long)]
        max_zoom: u8,
        /// Lowest zoom rendered (default 0).
        #[arg(long, default_value_t = 0)]
        min_zoom: u8,
        /// Renders at a time (default 2: a bounded share of the tile connections).
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Tiles and bytes in the store per layer and zoom.
    Status,
}

async fn tiles_command(config: &Config, action: &TilesAction) -> Result<()> {
    let Some(settings) = config.tile_store.clone() else {
        anyhow::bail!("the tile store is off ([tiles] store_max_bytes = 0)");
    };
    match action {
        TilesAction::Status => {
            let store = tiles::store::TileStore::open(settings).await?;
            let status = store.status().await?;
            println!("{}", store.path().display());
            println!(
                "{:<24} {:>4} {:>10} {:>14}",
                "layers", "z", "tiles", "bytes"
            );
            let (mut tiles, mut bytes) = (0u64, 0u64);
            for row in &status {
                println!(
                    "{:<24} {:>4} {:>10} {:>14}",
                    row.layers, row.z, row.tiles, row.bytes
                );
                tiles += row.tiles;
                bytes += row.bytes;
            }
            println!("{:<24} {:>4} {tiles:>10} {bytes:>14}", "total", "");
            // A server's background seeder keeps its progress in the store.
            if let Some(note) = store.note("seeder").await? {
                match serde_json::from_str::<tiles::seeder::SeedProgress>(&note) {
                    Ok(p) => println!(
                        "seeding: {} {}{} rendered {} stored already {} re-rendered {} waiting {} walks {} failures {}",
                        if p.running { "running" } else { "idle" },
                        p.layer.as_deref().unwrap_or("-"),
                        p.zoom.map(|z| format!(" z{z}")).unwrap_or_default(),
                        p.rendered,
                        p.already,
                        p.rerendered,
                        p.waiting,
                        p.walks,
                        p.failures
                    ),
                    Err(e) => println!("seeding: unreadable progress ({e})"),
                }
            }
            Ok(())
        }
        TilesAction::Seed {
            layer,
            max_zoom,
            min_zoom,
            jobs,
        } => {
            with_db(config, async |db| {
                let state = AppState::with_settings(
                    db.pool.clone(),
                    tiles::TileSettings {
                        cache_bytes: 0,
                        ..Default::default()
                    },
                    config.load.clone(),
                )?;
                state.tiles.reload_layers().await;
                state.tiles.open_store(settings.clone()).await?;
                // Changes during the seeding drop what it stored, as in a server.
                let listener = state.tiles.spawn_invalidation_listener();
                let started = std::time::Instant::now();
                let report = state
                    .tiles
                    .seed(layer, *min_zoom, *max_zoom, *jobs, |z, r| {
                        eprintln!(
                            "z{z}: {} tiles with data, {} rendered, {} stored already ({:.1} s)",
                            r.with_data,
                            r.rendered,
                            r.already,
                            started.elapsed().as_secs_f64()
                        );
                    })
                    .await?;
                listener.abort();
                println!(
                    "seeded {layer} to z{max_zoom}: {} rendered, {} stored already, {:.1} s",
                    report.rendered,
                    report.already,
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            })
            .await
        }
    }
}

/// What `bando network …` can do.
#[derive(Subcommand, Debug)]
enum NetworkAction {
    /// The quality report: crossings, dangles, unconnected devices, valves off their pipe,
    /// islands without a source, each with its location, as a GeoJSON FeatureCollection
    /// (stdout, or --out); counts on stderr.
    Check {
        /// Which network: `water` or `power`.
        network: String,
        /// Write the GeoJSON here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

async fn network_command(
    pool: &sqlx::PgPool,
    settings: utilities::network::Settings,
    action: &NetworkAction,
) -> Result<()> {
    use utilities::network::load::Kind;
    use utilities::network::{check, load, Network};
    match action {
        NetworkAction::Check { network, out } => {
            let kind = match network.as_str() {
                "water" => Kind::Water,
                "power" => Kind::Power,
                other => anyhow::bail!(
                    "bando network check knows the water and power networks (not {other:?})"
                ),
            };
            let inputs = load::inputs_of(pool, kind).await?;
            let net = Network::build(&inputs, settings);
            let report = check::check(&net);
            let fc = check::report_geojson(pool, &net, &report, kind).await?;
            let w = check::Words::of(kind);
            eprintln!(
                "{network} network: {} {}; {} crossings without a junction, {} dangles ({} within {} m of another {}), {} unconnected devices, {} {}, {} islands without a source",
                net.pipe_count(),
                w.edges,
                report.crossings.len(),
                report.dangles.len(),
                report.dangles.iter().filter(|d| d.near_pipe_m.is_some()).count(),
                check::NEAR_M,
                w.edge,
                report.unconnected.len(),
                report.valves_off_pipe.len(),
                w.off_edge_count.replace('_', " "),
                report.islands.len()
            );
            match out {
                Some(path) => std::fs::write(path, fc.to_string())
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => println!("{fc}"),
            }
            Ok(())
        }
    }
}

/// What `bando layer …` can do.
#[derive(Subcommand, Debug)]
enum LayerAction {
    /// Every layer, built-in and added.
    List,
    /// An added layer's definition (JSON).
    Show {
        /// Layer id.
        id: String,
    },
    /// Change settings of an added layer: title, title_en, sector, color, visible, zoom
    /// (MIN-MAX), cache_max_age, restricted (a,b), title_vi.COLUMN, title_en.COLUMN.
    Set {
        /// Layer id.
        id: String,
        /// KEY=VALUE pairs.
        #[arg(required = true)]
        settings: Vec<String>,
    },
    /// Remove an added layer and its table (built-in layers are never dropped).
    Drop {
        /// Layer id.
        id: String,
        /// Also when it still holds features.
        #[arg(long)]
        force: bool,
    },
}

/// Who ran a command, for the audit log: the operating system's user.
fn command_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// Writes one entry of a command's change to the audit log (method `CLI`, the command as its
/// path), now: a command has no request to hang it on, and ends right after.
async fn audit_command(
    pool: &sqlx::PgPool,
    command: &str,
    status: u16,
    detail: String,
) -> Result<()> {
    let entry = gis_core::audit::AuditEntry {
        occurred_at: chrono::Utc::now(),
        actor: command_actor(),
        subject: None,
        roles: Vec::new(),
        event: gis_core::audit::AuditEvent::Write,
        method: "CLI".into(),
        path: command.into(),
        status,
        detail: Some(detail),
        client_addr: None,
        request_id: None,
    };
    gis_core::audit::insert_batch(pool, &[entry])
        .await
        .context("the change was made but not written to the audit log")?;
    Ok(())
}

async fn device_token_command(pool: &sqlx::PgPool, action: &DeviceTokenAction) -> Result<()> {
    match action {
        DeviceTokenAction::Issue { thing, label } => {
            let issued = ioc::devices::issue(pool, *thing, label, &command_actor()).await?;
            audit_command(
                pool,
                "bando device-token issue",
                201,
                format!(
                    "device token {} ({}) issued for Thing {}",
                    issued.record["id"],
                    issued.record["hint"].as_str().unwrap_or_default(),
                    thing
                ),
            )
            .await?;
            eprintln!(
                "bando: device token {} for Thing {} ({}); shown this once — keep it on the device",
                issued.record["id"],
                thing,
                issued.record["thing"].as_str().unwrap_or_default()
            );
            println!("{}", issued.token);
        }
        DeviceTokenAction::List { json } => {
            let tokens = ioc::devices::list(pool).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                let text = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "—".into(),
                    other => other.to_string(),
                };
                println!("id\tthing\thint\tlabel\tcreated_at\trevoked_at\tlast_used_at");
                for t in &tokens {
                    println!(
                        "{}\t{} {}\t{}\t{}\t{}\t{}\t{}",
                        text(&t["id"]),
                        text(&t["thing_id"]),
                        text(&t["thing"]),
                        text(&t["hint"]),
                        text(&t["label"]),
                        text(&t["created_at"]),
                        text(&t["revoked_at"]),
                        text(&t["last_used_at"])
                    );
                }
            }
        }
        DeviceTokenAction::Revoke { id } => {
            ioc::devices::revoke(pool, *id).await?;
            audit_command(
                pool,
                "bando device-token revoke",
                204,
                format!("device token {id} revoked"),
            )
            .await?;
            println!("bando: device token {id} revoked");
        }
    }
    Ok(())
}

async fn layer_command(pool: &sqlx::PgPool, action: &LayerAction) -> Result<()> {
    use layers::added;
    match action {
        LayerAction::List => {
            let added_ids: Vec<String> =
                added::load(pool).await?.into_iter().map(|l| l.id).collect();
            let registry = added::registry(pool).await?;
            for layer in registry.iter() {
                let origin = if added_ids.iter().any(|id| id == layer.id()) {
                    "added"
                } else {
                    "built-in"
                };
                let storage = layer.storage();
                println!(
                    "{:<18} {:<9} {:<12} {:<32} {}.{}",
                    layer.id(),
                    origin,
                    layer.sector(),
                    layer.title_vi(),
                    storage.schema,
                    storage.table
                );
            }
        }
        LayerAction::Show { id } => {
            let layer = added::get(pool, id).await?;
            println!("{}", serde_json::to_string_pretty(&layer)?);
        }
        LayerAction::Set { id, settings } => {
            let mut layer = added::get(pool, id).await?;
            for pair in settings {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("{pair}: write KEY=VALUE"))?;
                layer.set(key.trim(), value)?;
            }
            added::save(
                pool,
                &layer,
                &std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            )
            .await?;
            println!("layer {id} updated");
        }
        LayerAction::Drop { id, force } => {
            if layers::catalog::declarations()
                .iter()
                .any(|l| l.table.kind == id.as_str())
            {
                anyhow::bail!("{id} is a built-in layer: it is declared in its owner's code and is never dropped");
            }
            let features = added::drop_layer(pool, id, *force).await?;
            println!("layer {id} dropped ({features} features deleted)");
        }
    }
    Ok(())
}

async fn serve(config: &Config, db: &Database) -> Result<()> {
    tile_server::routes::web::set_web_dir(config.web_dir.clone());
    tile_server::app::set_ingest_settings(config.ioc.ingest);
    tile_server::app::set_network_settings(config.networks);
    tile_server::routes::set_public_url(config.public_url.clone());
    tile_server::glyphs::set_font_dir(config.font_dir.clone());
    // The printed planning sheet's fonts, read once now (beside the start, not delaying it): a
    // missing package is said at start, not at the first citizen's PDF.
    tokio::task::spawn_blocking(|| {
        if let Err(e) = tile_server::routes::portal::printer() {
            tracing::warn!("the portal's PDF sheets will fail: {e}");
        }
    });
    // Scale-out: reads spread over the replicas per request, with failover to another
    // replica or the primary (tile_server::load::Replicas).
    let mut replicas = Vec::new();
    for url in &config.read_urls {
        let name = gis_core::db::redact_url(url);
        println!("bando: reading from replica {name}");
        replicas.push((name, gis_core::db::replica_options(url)?));
    }
    let state = AppState::with_replicas(
        db.pool.clone(),
        replicas,
        tiles::TileSettings {
            cache_bytes: config.tile_cache_bytes,
            ..Default::default()
        },
        config.load.clone(),
    )?;
    // Layers written in the config are stored like any added layer (unchanged ones untouched).
    for layer in &config.layers {
        layers::added::save(&db.pool, layer, "config").await?;
    }
    state.tiles.reload_layers().await;
    // The persistent tile store: checked against the database before its first use (and again
    // once the change listener listens).
    if let Some(store) = &config.tile_store {
        match state.tiles.open_store(store.clone()).await {
            Ok(store) => {
                println!("bando: tile store {}", store.path().display());
                // Restart = warm: the most used stored tiles go back to memory before the
                // first request (bounded by half the memory cache).
                let started = std::time::Instant::now();
                let warmed = state.tiles.warm_from_store().await;
                println!(
                    "bando: {warmed} stored tiles put back in memory in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => tracing::warn!(%e, "the tile store is off"),
        }
    }
    let listener_task = state.tiles.spawn_invalidation_listener();
    // The utility networks' graphs are built at start, in the background, so the first trace
    // does not pay for the build; they follow the change notifications from then on.
    for network in [state.networks.clone(), state.power.clone()] {
        tokio::spawn(async move {
            if let Err(e) = network.get().await {
                tracing::warn!(%e, "a utility network could not be built at start");
            }
        });
    }
    // The store's background seeder: every seedable layer now (stored tiles are skipped),
    // then each import's area and the tiles changes drop, behind live requests.
    if let Some(seed) = config.tile_seed {
        if state.tiles.spawn_seeder(seed).is_some() {
            println!("bando: seeding the tile store in the background");
        }
    }
    let limits = Limits {
        request_timeout: config.request_timeout,
        body_limit_bytes: config.body_limit_bytes,
    };
    // Bearer tokens: a provider's keys found by discovery, or the development issuer's own
    // keys (verified the same way, without fetching them from this very server).
    let dev_issuer = match &config.auth {
        tile_server::config::AuthSettings::Dev(dev) => {
            Some(std::sync::Arc::new(auth::DevIssuer::open(dev.clone())?))
        }
        _ => None,
    };
    let verifier = match (&config.auth, &dev_issuer) {
        (tile_server::config::AuthSettings::Oidc(cfg), _) => {
            Some(auth::Verifier::new(cfg.clone())?)
        }
        (_, Some(issuer)) => Some(auth::Verifier::with_static_keys(
            issuer.verifier_config(),
            &issuer.jwks(),
        )?),
        _ => None,
    };
    if let Some(verifier) = verifier {
        // Browser apps sign in as the audience's client (Keycloak: a public client with PKCE).
        let _ = state
            .sign_in
            .set(tile_server::routes::signin::BrowserSignIn {
                issuer: verifier.config().issuer.clone(),
                client_id: verifier.config().audience.clone(),
                development: dev_issuer.is_some(),
            });
        let _ = state.verifier.set(verifier);
    }
    // Live sensor data: the broker named by [ioc] mqtt_url, or a private Mosquitto stopped on
    // exit; Things and Datastreams for the stations; the subscriber feeding ingest.
    let seeded = ioc::seed::seed_stations(&db.pool).await?;
    if seeded.datastreams > 0 {
        tracing::info!(
            things = seeded.things,
            datastreams = seeded.datastreams,
            "IOC datastreams seeded for the stations"
        );
    }
    let private_broker = match &config.ioc.broker {
        Some(_) => None,
        None => Some(ioc::broker::PrivateBroker::start(&config.data_dir)?),
    };
    let broker = config
        .ioc
        .broker
        .clone()
        .or_else(|| private_broker.as_ref().map(|b| b.address()))
        .context("no MQTT broker")?;
    println!("bando: MQTT broker {}", broker.url());
    let subscriber = ioc::mqtt::Subscriber::start(
        &broker,
        &format!("bando-{}", std::process::id()),
        state.ingest.clone(),
    );
    // On ingest's own connections: the purges and the missing-data check wait for the locks
    // of ingest's batches, and must not hold the admin class's (landing page, audit log).
    let purge_pool = state.ingest.pool().clone();
    let max_age = config.ioc.ingest.limits.max_age;
    let purge_task = tokio::spawn(async move {
        loop {
            match ioc::ingest::purge(&purge_pool, max_age).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "old observations purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging old observations failed"),
            }
            // A day of feed entries to resume from; clients further behind get a snapshot.
            let day = std::time::Duration::from_secs(86_400);
            if let Err(e) = ioc::feeds::purge_log(&purge_pool, day).await {
                tracing::warn!(error = %e, "purging the live feed log failed");
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
    // Missing data: every instance looks every half minute; one at a time raises (the
    // check's advisory lock), each episode once (`ioc.alert_state`).
    let check_pool = state.ingest.pool().clone();
    let missing_task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            match ioc::alerts::check_missing(&check_pool, chrono::Utc::now()).await {
                Ok(c) if !c.raised.is_empty() || !c.cleared.is_empty() => tracing::info!(
                    raised = c.raised.len(),
                    cleared = c.cleared.len(),
                    "missing-data alerts"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the missing-data check failed"),
            }
        }
    });
    // Plans' validity: when a day ends a plan's validity or starts an approved one, no row
    // changes, yet public tiles must; every instance looks at start and each half minute, one
    // at a time notifies (the check's advisory lock), each change once (`shown_in_force`).
    let validity_pool = state.pools.admin.clone();
    let validity_task = tokio::spawn(async move {
        loop {
            match planning::plans::check_validity(&validity_pool).await {
                Ok(c) if !c.started.is_empty() || !c.ended.is_empty() => tracing::info!(
                    started = ?c.started,
                    ended = ?c.ended,
                    "plans' validity changed; their tiles notified"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the plans' validity check failed"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    });
    let retention_task = config
        .audit_retention
        .map(|r| tile_server::audit::spawn_retention(state.pools.admin.clone(), r));
    let audit = state.audit.clone();
    let _ = state.cors_origins.set(config.cors_origins.clone());
    let _ = state.land.set(config.land);
    if let Some(dir) = &config.plan_documents_dir {
        let dir = planning::documents::DocumentsDir::open(dir)
            .context("[planning] documents_dir (BANDO_PLAN_DOCUMENTS_DIR)")?;
        let _ = state.plan_documents.set(dir);
    }
    if let Some(issuer) = &dev_issuer {
        println!(
            "bando: development sign-in at {}/authorize",
            issuer.issuer()
        );
    }
    // With `auth.dev_issuer` the development issuer's own routes are served under /dev-auth.
    let router = tile_server::app::app_with_dev_issuer(state, limits, dev_issuer);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "bando listening");
    println!("bando: serving http://{addr}/");
    // The peer address is the client of the per-client limits (see tile_server::load).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(tile_server::shutdown_signal())
    .await?;
    listener_task.abort();
    purge_task.abort();
    missing_task.abort();
    validity_task.abort();
    subscriber.stop();
    if let Some(broker) = private_broker {
        broker.stop();
    }
    if let Some(task) = retention_task {
        task.abort();
    }
    // Entries still queued are written before the process ends.
    audit.flush().await;
    tracing::info!("server stopped");
    Ok(())
}

fn print_summary(s: &importers::pipeline::ImportSummary) {
    let verb = if s.dry_run {
        "would import"
    } else {
        "imported"
    };
    println!(
        "{}: read {} features in {:.1} s",
        s.layer, s.read, s.seconds
    );
    for src in &s.sources {
        println!(
            "  {} [{}] {} features, {}, axes {}",
            src.path, src.layer, src.features, src.crs_note, src.axis
        );
        for (field, (enc, confidence)) in &src.encodings {
            println!("    text field {field}: {enc} (confidence {confidence:.2})");
        }
        if !src.extra_fields.is_empty() {
            println!("    kept in extra: {}", src.extra_fields.join(", "));
        }
    }
    if let Some(m) = &s.merged {
        println!(
            "{verb}: {} new, {} updated, {} unchanged, {} removed; {} repaired; {} rejected",
            m.inserted, m.updated, m.unchanged, m.deleted, s.repaired, s.rejected
        );
    }
    for (reason, n) in &s.rejected_by_reason {
        println!("  rejected {n}: {reason}");
    }
    if let Some(f) = &s.rejects_file {
        println!("  rejected features listed in {}", f.display());
    }
    for finding in &s.findings {
        println!("  note: {finding}");
    }
    if s.dry_run {
        println!("dry run: nothing was changed");
    }
}

/// The plan `--plan NEW|ID` names for an import into a planning layer: a new draft (not made
/// on a dry run: `None`) or an existing draft.
#[allow(clippy::too_many_arguments)]
async fn plan_for_import(
    pool: &sqlx::PgPool,
    kind: &str,
    plan: &str,
    name: Option<&str>,
    level: &str,
    replaces: Option<i64>,
    path: &std::path::Path,
    dry_run: bool,
) -> Result<Option<i64>> {
    if !planning::tables::ALL.iter().any(|t| t.kind == kind) {
        anyhow::bail!(
            "--plan applies to the planning layers ({}), not {kind}",
            planning::tables::ALL
                .iter()
                .map(|t| t.kind)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if plan.eq_ignore_ascii_case("new") {
        if dry_run {
            return Ok(None);
        }
        let file = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "plan".into());
        let id = planning::plans::create_draft(
            pool,
            &planning::plans::NewPlan {
                name: name.map(str::to_string).unwrap_or(file),
                level: level.to_string(),
                replaces,
                authority: None,
                created_by: std::env::var("USER").ok(),
            },
        )
        .await?;
        println!("draft plan {id} created");
        return Ok(Some(id));
    }
    let id: i64 = plan
        .parse()
        .map_err(|_| anyhow::anyhow!("--plan {plan}: write NEW or a plan id"))?;
    planning::plans::check_importable(pool, id).await?;
    Ok(Some(id))
}

async fn plan_command(
    pool: &sqlx::PgPool,
    action: &PlanAction,
    plan_documents_dir: Option<&std::path::Path>,
) -> Result<()> {
    use planning::plans;
    match action {
        PlanAction::List => {
            for p in plans::list(pool, true).await? {
                println!(
                    "{:>5}  {:<10}  {:<8}  {:<20}  {} zones  {}",
                    p.id,
                    p.status,
                    p.level,
                    p.decision_number.as_deref().unwrap_or("-"),
                    p.zones,
                    p.name
                );
            }
        }
        PlanAction::Approve {
            id,
            decision,
            decision_date,
            authority,
            valid_until,
        } => {
            let day = |d: &Option<String>| d.as_deref().map(plans::parse_day).transpose();
            let plan = plans::approve(
                pool,
                *id,
                &plans::Approval {
                    decision_number: decision.clone(),
                    decision_date: day(decision_date)?,
                    authority: authority.clone(),
                    valid_from: None,
                    valid_until: day(valid_until)?,
                    approved_on: None,
                },
            )
            .await?;
            println!(
                "plan {} approved by {}{}",
                plan.id,
                plan.decision_number.as_deref().unwrap_or(""),
                plan.replaces
                    .map(|r| format!("; plan {r} superseded"))
                    .unwrap_or_default()
            );
        }
        PlanAction::Withdraw {
            id,
            decision,
            decision_date,
        } => {
            let by = plans::Withdrawal {
                decision_number: decision.clone(),
                decision_date: decision_date.as_deref().map(plans::parse_day).transpose()?,
            };
            let done = plans::withdraw(pool, *id, &by).await?;
            println!(
                "plan {} withdrawn{}",
                done.plan.id,
                done.restored
                    .map(|r| format!("; plan {r} is in force again"))
                    .unwrap_or_default()
            );
        }
        PlanAction::Document {
            id,
            file,
            title,
            in_database,
        } => {
            // With a documents directory, the file stays there and its path is stored.
            if let (Some(dir), false) = (plan_documents_dir, *in_database) {
                let dir = planning::documents::DocumentsDir::open(dir)
                    .context("[planning] documents_dir (BANDO_PLAN_DOCUMENTS_DIR)")?;
                let rel = dir.relative(file).with_context(|| {
                    format!(
                        "put the file under {} (or use --in-database)",
                        dir.root().display()
                    )
                })?;
                let size = std::fs::metadata(file)
                    .with_context(|| format!("reading {}", file.display()))?
                    .len();
                let name = file
                    .file_name()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "document".into());
                let doc = plans::add_document_file(
                    pool,
                    *id,
                    title.as_deref().unwrap_or(&name),
                    &name,
                    &rel,
                    i64::try_from(size).unwrap_or(i64::MAX),
                )
                .await?;
                println!(
                    "document {doc} ({}, {size} bytes, kept as {rel} in {}) added to plan {id}",
                    planning::documents::media_type(&name),
                    dir.root().display()
                );
                return Ok(());
            }
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "document".into());
            let media_type = match file
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .as_deref()
            {
                Some("pdf") => "application/pdf",
                Some("png") => "image/png",
                Some("jpg" | "jpeg") => "image/jpeg",
                Some("txt") => "text/plain; charset=utf-8",
                _ => "application/octet-stream",
            };
            let doc = plans::add_document(
                pool,
                *id,
                title.as_deref().unwrap_or(&name),
                &name,
                media_type,
                &bytes,
            )
            .await?;
            println!(
                "document {doc} ({media_type}, {} bytes) added to plan {id}",
                bytes.len()
            );
        }
    }
    Ok(())
}
