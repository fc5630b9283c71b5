//! The MQTT broker: an existing one named by a URL, or a private Mosquitto.
//!
//! A private broker is Debian's `mosquitto` run in the foreground on a free port of
//! 127.0.0.1 (the machine's own service usually holds 1883), anonymous, without persistence
//! (readings are kept in PostgreSQL, not in the broker), with its configuration and log in
//! `<data_dir>/mosquitto`. Started as root, Mosquitto drops to the `mosquitto` user; the
//! configuration has no `pid_file` (one in a root-owned directory makes it exit); bando keeps
//! the broker's process id in `<data_dir>/mosquitto/broker.pid` itself, so a broker left
//! running by a bando that was killed (`kill -9` runs no drop) is stopped by the next start
//! instead of piling up. Stopped by [`PrivateBroker::stop`] or when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Errors of the broker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Mosquitto is not installed.
    #[error("the MQTT broker mosquitto was not found: install it (Debian: apt-get install mosquitto) or set [ioc] mqtt_url to an existing broker")]
    NotInstalled,
    /// The broker's directory cannot be used.
    #[error("cannot use {path}: {source}")]
    Dir {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Mosquitto could not be started, or exited.
    #[error("mosquitto did not start on 127.0.0.1:{port}: {reason} (log: {log})")]
    Start {
        /// The port it was given.
        port: u16,
        /// What happened.
        reason: String,
        /// Its log file.
        log: PathBuf,
    },
    /// A broker URL that is not `mqtt://host[:port]`.
    #[error("the MQTT broker address must be mqtt://HOST[:PORT], not \"{0}\"")]
    BadUrl(String),
}

/// Where a broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddress {
    /// Reads `mqtt://host[:port]` (also `tcp://`; port 1883 by default).
    pub fn parse(url: &str) -> Result<Self, BrokerError> {
        let bad = || BrokerError::BadUrl(url.to_string());
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(bad)?
            .trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(bad());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (rest, 1883),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(BrokerAddress {
            host: host.to_string(),
            port,
        })
    }

    /// `mqtt://host:port`.
    pub fn url(&self) -> String {
        format!("mqtt://{}:{}", self.host, self.port)
    }
}

/// A running private Mosquitto. Stopped when dropped.
#[derive(Debug)]
pub struct PrivateBroker {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

fn find_mosquitto() -> Option<PathBuf> {
    let fixed = [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ];
    if let Some(p) = fixed.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("mosquitto"))
            .find(|p| p.is_file())
    })
}

fn free_port() -> Result<u16, BrokerError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|source| BrokerError::Dir {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|source| BrokerError::Dir {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })
}

impl PrivateBroker {
    /// Starts Mosquitto with its files in `<data_dir>/mosquitto` and waits (≤ 10 s) until it
    /// accepts connections.
    pub fn start(data_dir: &Path) -> Result<Self, BrokerError> {
        let binary = find_mosquitto().ok_or(BrokerError::NotInstalled)?;
        let dir = data_dir.join("mosquitto");
        let dir_err = |source| BrokerError::Dir {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(dir_err)?;
        let conf = dir.join("mosquitto.conf");
        stop_left_over(&dir.join(PID_FILE), &conf);
        let port = free_port()?;
        let log = dir.join("mosquitto.log");
        std::fs::write(
            &conf,
            format!(
                "# Written by bando at every start: its private broker.\n\
                 listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest stdout\nmax_queued_messages 100000\n"
            ),
        )
        .map_err(dir_err)?;
        // Mosquitto running as its own user must read the file.
        let _ =
            std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let out = std::fs::File::create(&log).map_err(dir_err)?;
        let err = out.try_clone().map_err(dir_err)?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| BrokerError::Start {
                port,
                reason: format!("cannot run {}: {e}", binary.display()),
                log: log.clone(),
            })?;
        let _ = std::fs::write(dir.join(PID_FILE), child.id().to_string());
        let mut broker = PrivateBroker {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                tracing::info!(port, "private MQTT broker started");
                return Ok(broker);
            }
            let exited = broker
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                broker.child = None;
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(BrokerError::Start {
                    port,
                    reason: format!("it exited ({status}): {}", text.trim()),
                    log,
                });
            }
            if Instant::now() > deadline {
                return Err(BrokerError::Start {
                    port,
                    reason: "it did not accept connections within 10 s".into(),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where it listens.
    pub fn address(&self) -> BrokerAddress {
        BrokerAddress {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// The address of the private broker a `bando serve` with data directory `data_dir` is
    /// running (read from the configuration it wrote), for `bando simulate-sensors`.
    pub fn running_in(data_dir: &Path) -> Option<BrokerAddress> {
        let conf = std::fs::read_to_string(data_dir.join("mosquitto/mosquitto.conf")).ok()?;
        let port = conf
            .lines()
            .find_map(|l| l.strip_prefix("listener "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|p| p.parse().ok())?;
        Some(BrokerAddress {
            host: "127.0.0.1".into(),
            port,
        })
    }

    /// Its directory (configuration and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the broker and waits for it to exit.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(self.dir.join(PID_FILE));
            tracing::info!(port = self.port, "private MQTT broker stopped");
        }
    }
}

/// bando's record of its broker's process id, in the broker's directory.
const PID_FILE: &str = "broker.pid";

/// Stops the broker a killed bando left running: the process named in `pid_file`, if it is
/// still a mosquitto run with `conf` (a recycled process id belongs to someone else).
fn stop_left_over(pid_file: &Path, conf: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let ours = std::fs::read(proc_dir.join("cmdline")).is_ok_and(|c| {
        let text = String::from_utf8_lossy(&c);
        text.contains("mosquitto") && text.contains(&*conf.to_string_lossy())
    });
    if ours {
        tracing::warn!(
            pid,
            "stopping the MQTT broker a previous bando left running"
        );
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while proc_dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(pid_file);
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let a = BrokerAddress::parse("mqtt://127.0.0.1:18830").expect("url");
        assert_eq!(a.port, 18830);
        assert_eq!(a.host, "127.0.0.1");
        assert_eq!(
            BrokerAddress::parse("mqtt://broker.local")
                .expect("url")
                .port,
            1883
        );
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:port",
            "mqtt://u@h:1",
            "h:1",
        ] {
            assert!(BrokerAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
