//! The real `bando` binary end to end: sample → import → serve on the embedded private cluster,
//! clean stop on SIGTERM, data reused on the next start; `db migrate|status` against an existing
//! server; and bad command-line input answered with one clear sentence.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tests::{bando_bin, TestDb};

/// `bando` with no DATABASE_URL: the embedded default.
fn bando_embedded(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bando_bin());
    cmd.env_remove("DATABASE_URL")
        .arg("--data-dir")
        .arg(data_dir);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run bando")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bando serve");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("bando: serving ") {
                    let _ = tx.send(url.trim_end_matches('/').to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(90))
            .expect("bando serve did not report its address");
        Server { child, base }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// SIGTERM, then wait for a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "bando exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bando did not stop within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_import_serve_stop_and_restart_on_the_embedded_cluster() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("state");
    let sample = work.path().join("sample");

    let o = run(Command::new(bando_bin())
        .args(["sample", "--out"])
        .arg(&sample));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("12 communes"), "{}", stdout(&o));

    let o = run(bando_embedded(&data)
        .args(["import", "--layer", "communes"])
        .arg(sample.join("communes.gpkg")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported: 12 new"), "{}", stdout(&o));
    // The import stopped the cluster it started.
    assert!(!data.join("pg/postmaster.pid").exists());

    let server = Server::start(bando_embedded(&data));
    let (status, body) = server.get("/health").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("data-layer=\"communes\" data-count=\"12\""),
        "{body}"
    );
    assert!(data.join("pg/postmaster.pid").exists());
    server.stop();
    assert!(
        !data.join("pg/postmaster.pid").exists(),
        "the private cluster must stop with bando"
    );

    // Second start: same data, no re-import.
    let server = Server::start(bando_embedded(&data));
    let (_, body) = server.get("/layers").await;
    assert!(body.contains("\"feature_count\":12"), "{body}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_db_commands_use_database_url_when_set() {
    let db = TestDb::new().await;
    let work = tempfile::tempdir().expect("tempdir");
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &db.url)
        .args(["db", "status"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.lines().count() >= 4, "{text}");
    assert!(text.lines().all(|l| l.contains("applied")), "{text}");
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", &db.url)
        .args(["db", "migrate"]));
    assert!(o.status.success(), "{}", stderr(&o));

    let mut cmd = Command::new(bando_bin());
    cmd.env("DATABASE_URL", &db.url)
        .arg("--data-dir")
        .arg(work.path());
    let server = Server::start(cmd);
    let (status, _) = server.get("/health").await;
    assert_eq!(status, 200);
    server.stop();
    // No private cluster was created.
    assert!(!work.path().join("pg").exists());
}

#[test]
fn bad_command_line_input_gets_one_clear_sentence() {
    let work = tempfile::tempdir().expect("tempdir");
    let missing = work.path().join("nowhere.gpkg");
    let o = run(Command::new(bando_bin())
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .args(["import", "--layer", "parcels_of_mars"])
        .arg(&missing));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("importable layers: communes"),
        "{}",
        stderr(&o)
    );

    let o = run(Command::new(bando_bin())
        .args(["import", "--layer", "communes", "--srs", "EPSG:abc"])
        .arg(&missing));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not a CRS reference"),
        "{}",
        stderr(&o)
    );

    let o = run(Command::new(bando_bin())
        .env("BANDO_LISTEN", "not-an-address")
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .arg("serve"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("server.listen"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
