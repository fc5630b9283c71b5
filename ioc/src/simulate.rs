//! `bando simulate-sensors`: realistic readings for the seeded datastreams, published over
//! MQTT exactly as devices publish them, so the IOC demo is alive.
//!
//! Each datastream drifts around the middle of its quantity's usual range ([`QUANTITIES`])
//! with noise (traffic counts as whole vehicles per hour), by as much per round as the round
//! is long ([`Simulator::round_seconds`]: a real level moves so much per minute, however often
//! it is read — drawn per round instead, fast rounds made a random walk whose rate of change
//! raised the water-level rate rule all the time); every `episode_every` rounds one datastream
//! of a quantity that has alert rules (water level, PM2.5, rainfall) climbs past its alarm
//! level and comes back down over the next rounds, so rules raise and clear events in the demo. Deterministic for a
//! seed (a small xorshift generator: no dependency for a demo).

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::mqtt::{observations_topic, Publisher};
use crate::seed::QUANTITIES;

/// A datastream the simulator feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Its id.
    pub id: i64,
    /// The observed property's name.
    pub property: String,
    /// Usual range.
    pub usual: (f64, f64),
    /// Readings are counts (published as whole numbers).
    pub count: bool,
    /// The highest alert level of its property (alarm `raise_at`), if any.
    pub alarm_at: Option<f64>,
}

/// The datastreams to feed: those of the seeded quantities.
pub async fn streams(pool: &PgPool) -> Result<Vec<Stream>, sqlx::Error> {
    let rows: Vec<(i64, String, Option<f64>)> = sqlx::query_as(
        "SELECT d.id, op.name, (SELECT max(r.raise_at) FROM ioc.alert_rules r
                                 WHERE r.observed_property_id = op.id AND r.direction = 'above'
                                   AND r.kind = 'threshold' AND r.enabled)
         FROM ioc.datastreams d JOIN ioc.observed_properties op ON op.id = d.observed_property_id
         ORDER BY d.id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, property, alarm_at)| {
            let q = QUANTITIES.iter().find(|q| q.property == property)?;
            Some(Stream {
                id,
                property,
                usual: q.usual,
                count: q.count,
                alarm_at,
            })
        })
        .collect())
}

/// The time over which a quantity drifts by up to ±4 % of its usual range.
pub const DRIFT_SECONDS: f64 = 600.0;

/// The simulator's state.
#[derive(Debug, Clone)]
pub struct Simulator {
    streams: Vec<Stream>,
    values: Vec<f64>,
    rng: u64,
    round: u64,
    /// Rounds between episodes (0: none).
    pub episode_every: u64,
    /// Seconds between rounds: the drift of a round is this share of [`DRIFT_SECONDS`]'s
    /// (by default a whole [`DRIFT_SECONDS`]; `bando simulate-sensors` sets its `--interval`).
    pub round_seconds: f64,
    /// The datastream in an episode and the rounds it has left.
    episode: Option<(usize, u64)>,
}

impl Simulator {
    /// A simulator of `streams`, deterministic for `seed`.
    pub fn new(streams: Vec<Stream>, seed: u64) -> Simulator {
        let values = streams
            .iter()
            .map(|s| s.usual.0 + (s.usual.1 - s.usual.0) * 0.4)
            .collect();
        Simulator {
            streams,
            values,
            rng: seed.max(1),
            round: 0,
            episode_every: 20,
            round_seconds: DRIFT_SECONDS,
            episode: None,
        }
    }

    fn next_unit(&mut self) -> f64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One round: a value for every datastream.
    pub fn step(&mut self) -> Vec<(i64, f64)> {
        self.round += 1;
        if self.episode.is_none()
            && self.episode_every > 0
            && self.round.is_multiple_of(self.episode_every)
        {
            let candidates: Vec<usize> = (0..self.streams.len())
                .filter(|i| self.streams[*i].alarm_at.is_some())
                .collect();
            if !candidates.is_empty() {
                let pick = candidates
                    [(self.next_unit() * candidates.len() as f64) as usize % candidates.len()];
                self.episode = Some((pick, 10));
            }
        }
        let mut out = Vec::with_capacity(self.streams.len());
        let share = (self.round_seconds / DRIFT_SECONDS).clamp(0.0, 1.0);
        for i in 0..self.streams.len() {
            let (lo, hi) = self.streams[i].usual;
            let span = hi - lo;
            let noise = (self.next_unit() - 0.5) * span * 0.08 * share;
            let mut v = self.values[i] + noise;
            // Pulled back toward the usual middle.
            v += (lo + span * 0.4 - v) * 0.1 * share;
            if let Some((e, left)) = self.episode {
                if e == i {
                    let peak = self.streams[i].alarm_at.unwrap_or(hi) * 1.1;
                    // Up for five rounds, down for five.
                    v = if left > 5 {
                        v + (peak - v) * 0.5
                    } else {
                        lo + span * 0.3
                    };
                }
            }
            v = v.max(0.0);
            self.values[i] = v;
            let v = if self.streams[i].count {
                v.round()
            } else {
                (v * 100.0).round() / 100.0
            };
            out.push((self.streams[i].id, v));
        }
        if let Some((e, left)) = self.episode {
            self.episode = (left > 1).then_some((e, left - 1));
        }
        out
    }
}

/// Publishes `rounds` rounds (0: until the task is stopped), one every `interval`.
pub async fn run(
    publisher: &Publisher,
    mut sim: Simulator,
    interval: Duration,
    rounds: u64,
) -> Result<u64, rumqttc::ClientError> {
    let mut published = 0;
    let mut n = 0;
    loop {
        let now = chrono::Utc::now().to_rfc3339();
        for (id, value) in sim.step() {
            let body = json!({"phenomenonTime": now, "result": value});
            publisher
                .publish(&observations_topic(id), body.to_string().into_bytes())
                .await?;
            published += 1;
        }
        n += 1;
        if rounds > 0 && n >= rounds {
            return Ok(published);
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_stay_realistic_and_episodes_cross_the_alarm() {
        let streams = vec![
            Stream {
                id: 1,
                property: "Water level".into(),
                usual: (1.0, 3.5),
                count: false,
                alarm_at: Some(4.5),
            },
            Stream {
                id: 2,
                property: "Soil moisture".into(),
                usual: (15.0, 45.0),
                count: false,
                alarm_at: None,
            },
        ];
        let mut sim = Simulator::new(streams, 7);
        let mut max_level: f64 = 0.0;
        let mut cleared_after = false;
        for _ in 0..40 {
            for (id, v) in sim.step() {
                if id == 1 {
                    if max_level >= 4.5 && v < 3.0 {
                        cleared_after = true;
                    }
                    max_level = max_level.max(v);
                } else {
                    assert!((5.0..=60.0).contains(&v), "soil moisture {v}");
                }
            }
        }
        assert!(max_level >= 4.5, "an episode crosses the alarm level");
        assert!(cleared_after, "and comes back down");
    }

    /// Readings every 0.1 s move as much per minute as readings every 10 minutes do per
    /// minute: over any minute the water level's rate stays far below the rate rule's clear
    /// level (0.2 m/h), so a bench without episodes raises no events.
    #[test]
    fn fast_rounds_drift_as_slowly_per_minute_as_slow_ones() {
        let level = Stream {
            id: 1,
            property: "Water level".into(),
            usual: (1.0, 3.5),
            count: false,
            alarm_at: Some(4.5),
        };
        let mut sim = Simulator::new(vec![level], 11);
        sim.episode_every = 0;
        sim.round_seconds = 0.1;
        let values: Vec<f64> = (0..6000).map(|_| sim.step()[0].1).collect();
        let steepest = values
            .windows(601)
            .map(|w| (w[600] - w[0]).abs() * 60.0)
            .fold(0.0, f64::max);
        assert!(steepest < 0.2, "{steepest} m/h");
        // Rounded to centimetres, a steady level: the same or a centimetre apart.
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(hi - lo < 0.05, "{lo}…{hi}");
    }
}
