//! Alert rules with hysteresis, evaluated by ingest in the transaction that stores the readings.
//!
//! A rule names an observed property, a severity (`warning`, `alarm`), a direction and two
//! levels: an episode starts when a reading reaches `raise_at` and ends only when a later
//! reading gets back past `clear_at` (`ioc.alert_rules`, checked `clear_at < raise_at` for
//! `above`). Each episode makes one event ([`crate::events`]) with its history — not one per
//! reading. The episodes in progress are `ioc.alert_state` rows; ingest locks the datastreams
//! it writes (`FOR UPDATE`, in id order), so concurrent writers — other instances included —
//! evaluate one datastream's readings one after the other.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

/// Which side of the levels is the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Too high (water level, PM2.5).
    Above,
    /// Too low (groundwater, battery).
    Below,
}

/// One rule as ingest reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its id.
    pub id: i64,
    /// `warning` or `alarm`.
    pub severity: String,
    /// The alert side.
    pub direction: Direction,
    /// Reaching it starts an episode.
    pub raise_at: f64,
    /// Getting back past it ends the episode.
    pub clear_at: f64,
    /// The events' title (Vietnamese).
    pub title: String,
}

/// What a reading does to an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An episode starts.
    Raise,
    /// The episode in progress ends.
    Clear,
}

impl Rule {
    /// What `value` does to this rule's episode, `active` telling whether one is in progress.
    /// Between the two levels nothing changes: that band is the hysteresis.
    pub fn step(&self, active: bool, value: f64) -> Option<Step> {
        if !value.is_finite() {
            return None;
        }
        let (raised, cleared) = match self.direction {
            Direction::Above => (value >= self.raise_at, value <= self.clear_at),
            Direction::Below => (value <= self.raise_at, value >= self.clear_at),
        };
        match (active, raised, cleared) {
            (false, true, _) => Some(Step::Raise),
            (true, _, true) => Some(Step::Clear),
            _ => None,
        }
    }
}

/// A reading as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Its datastream.
    pub datastream_id: i64,
    /// Phenomenon time.
    pub time: DateTime<Utc>,
    /// The numeric result.
    pub value: f64,
}

/// A change of an episode, in the order the readings made them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The rule.
    pub rule_id: i64,
    /// The datastream.
    pub datastream_id: i64,
    /// Raised or cleared.
    pub step: Step,
    /// The reading that did it.
    pub value: f64,
    /// Its time.
    pub time: DateTime<Utc>,
}

/// Walks `readings` (any order; sorted here by time per datastream) through the `rules` of
/// each datastream from the `active` episodes: the transitions, in time order per datastream.
pub fn evaluate(
    rules: &HashMap<i64, Vec<Rule>>,
    active: &mut std::collections::HashSet<(i64, i64)>,
    readings: &mut [Reading],
) -> Vec<Transition> {
    readings.sort_by_key(|r| (r.datastream_id, r.time));
    let mut out = Vec::new();
    for r in readings.iter() {
        for rule in rules.get(&r.datastream_id).into_iter().flatten() {
            let key = (rule.id, r.datastream_id);
            if let Some(step) = rule.step(active.contains(&key), r.value) {
                match step {
                    Step::Raise => active.insert(key),
                    Step::Clear => active.remove(&key),
                };
                out.push(Transition {
                    rule_id: rule.id,
                    datastream_id: r.datastream_id,
                    step,
                    value: r.value,
                    time: r.time,
                });
            }
        }
    }
    out
}

/// The enabled rules of these datastreams (by their observed property), by datastream.
pub(crate) async fn rules_of(
    conn: &mut PgConnection,
    datastreams: &[i64],
) -> Result<HashMap<i64, Vec<Rule>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT d.id AS ds, r.id, r.severity, r.direction, r.raise_at, r.clear_at, r.title
         FROM ioc.datastreams d
         JOIN ioc.alert_rules r ON r.observed_property_id = d.observed_property_id
         WHERE d.id = ANY($1) AND r.enabled ORDER BY r.id",
    )
    .bind(datastreams)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<i64, Vec<Rule>> = HashMap::new();
    for row in rows {
        let direction: String = row.try_get("direction")?;
        out.entry(row.try_get("ds")?).or_default().push(Rule {
            id: row.try_get("id")?,
            severity: row.try_get("severity")?,
            direction: if direction == "below" {
                Direction::Below
            } else {
                Direction::Above
            },
            raise_at: row.try_get("raise_at")?,
            clear_at: row.try_get("clear_at")?,
            title: row.try_get("title")?,
        });
    }
    Ok(out)
}

/// Applies the transitions: a raise opens an event (with its `raised` history) and an
/// episode; a clear ends the episode and notes it on the event (`cleared`). The events
/// touched, for the feed.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    transitions: &[Transition],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut events = Vec::new();
    for t in transitions {
        match t.step {
            Step::Raise => {
                let id: i64 = sqlx::query_scalar(
                    "WITH e AS (
                         INSERT INTO ioc.events (kind, severity, title, rule_id, datastream_id,
                             thing_id, location, value, raised_at)
                         SELECT 'threshold', r.severity, r.title || ' — ' || t.name, r.id, d.id,
                                t.id, (SELECT ST_PointOnSurface(l.location) FROM ioc.thing_locations tl
                                       JOIN ioc.locations l ON l.id = tl.location_id
                                       WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1),
                                $3, $4
                         FROM ioc.alert_rules r, ioc.datastreams d JOIN ioc.things t ON t.id = d.thing_id
                         WHERE r.id = $1 AND d.id = $2
                         RETURNING id
                     ), h AS (
                         INSERT INTO ioc.event_history (event_id, at, action, actor, value)
                         SELECT id, $4, 'raised', 'rule', $3 FROM e
                     ), s AS (
                         INSERT INTO ioc.alert_state (rule_id, datastream_id, event_id, since)
                         SELECT $1, $2, id, $4 FROM e
                     )
                     SELECT id FROM e",
                )
                .bind(t.rule_id)
                .bind(t.datastream_id)
                .bind(t.value)
                .bind(t.time)
                .fetch_one(&mut *conn)
                .await?;
                events.push(id);
            }
            Step::Clear => {
                let id: Option<i64> = sqlx::query_scalar(
                    "WITH s AS (
                         DELETE FROM ioc.alert_state WHERE rule_id = $1 AND datastream_id = $2
                         RETURNING event_id
                     ), e AS (
                         UPDATE ioc.events e SET cleared_at = $4, clear_value = $3,
                             updated_at = now()
                         FROM s WHERE e.id = s.event_id RETURNING e.id
                     ), h AS (
                         INSERT INTO ioc.event_history (event_id, at, action, actor, value)
                         SELECT id, $4, 'cleared', 'rule', $3 FROM e
                     )
                     SELECT id FROM e",
                )
                .bind(t.rule_id)
                .bind(t.datastream_id)
                .bind(t.value)
                .bind(t.time)
                .fetch_optional(&mut *conn)
                .await?;
                events.extend(id);
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn rule(direction: Direction, raise_at: f64, clear_at: f64) -> Rule {
        Rule {
            id: 1,
            severity: "warning".into(),
            direction,
            raise_at,
            clear_at,
            title: "t".into(),
        }
    }

    #[test]
    fn hysteresis_makes_one_episode_per_crossing() {
        let r = rule(Direction::Above, 50.0, 40.0);
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let values = [30.0, 49.9, 50.0, 55.0, 45.0, 51.0, 41.0, 40.0, 45.0, 50.0];
        let mut readings: Vec<Reading> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Reading {
                datastream_id: 7,
                time: t0 + chrono::Duration::seconds(i as i64),
                value: *v,
            })
            .collect();
        // Arrival order does not matter: phenomenon time does.
        readings.reverse();
        let rules = HashMap::from([(7, vec![r])]);
        let mut active = HashSet::new();
        let steps: Vec<(Step, f64)> = evaluate(&rules, &mut active, &mut readings)
            .iter()
            .map(|t| (t.step, t.value))
            .collect();
        assert_eq!(
            steps,
            vec![
                (Step::Raise, 50.0),
                (Step::Clear, 40.0),
                (Step::Raise, 50.0)
            ]
        );
        assert!(active.contains(&(1, 7)));
    }

    #[test]
    fn below_rules_and_non_numbers() {
        let r = rule(Direction::Below, 2.0, 3.0);
        assert_eq!(r.step(false, 2.5), None);
        assert_eq!(r.step(false, 2.0), Some(Step::Raise));
        assert_eq!(r.step(true, 2.9), None);
        assert_eq!(r.step(true, 3.0), Some(Step::Clear));
        assert_eq!(r.step(false, f64::NAN), None);
    }
}
