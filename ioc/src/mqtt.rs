//! The broker side of ingest: a subscriber to `v1.1/+/Observations` feeding [`Ingest`], and a
//! publisher (the simulator, tests). rumqttc over plain TCP; the subscriber reconnects by
//! itself and subscribes again after every connection (clean sessions).

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;

use crate::broker::BrokerAddress;
use crate::ingest::Ingest;

/// The topic filter the subscriber follows: every entity's `Observations` (the topic is checked
/// to be a datastream's by [`crate::ingest::datastream_of_topic`]).
pub const OBSERVATIONS_FILTER: &str = "v1.1/+/Observations";

/// The topic of a datastream's observations.
pub fn observations_topic(datastream_id: i64) -> String {
    format!("v1.1/Datastreams({datastream_id})/Observations")
}

/// A running subscriber.
#[derive(Debug)]
pub struct Subscriber {
    task: tokio::task::JoinHandle<()>,
    subscribed: watch::Receiver<bool>,
}

impl Subscriber {
    /// Connects to the broker at `addr` as `client_id` and feeds every observation to `ingest`.
    pub fn start(addr: &BrokerAddress, client_id: &str, ingest: Ingest) -> Subscriber {
        let mut options = MqttOptions::new(client_id, addr.host.clone(), addr.port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(256 * 1024, 256 * 1024);
        let (client, mut events) = AsyncClient::new(options, 1024);
        let (tx, subscribed) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        ingest.submit_mqtt(&p.topic, &p.payload);
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Err(e) = client.try_subscribe(OBSERVATIONS_FILTER, QoS::AtLeastOnce)
                        {
                            tracing::warn!(error = %e, "cannot subscribe to observations");
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        tracing::info!(filter = OBSERVATIONS_FILTER, "subscribed to observations");
                        let _ = tx.send(true);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(false);
                        tracing::warn!(error = %e, "MQTT connection lost; reconnecting in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Subscriber { task, subscribed }
    }

    /// Waits until the subscription is in place (at most `timeout`): whether it is.
    pub async fn wait_subscribed(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.subscribed.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops it.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection that publishes (QoS 1); its network loop runs in a task of its own, which
/// counts the broker's acknowledgements ([`Publisher::settle`]).
#[derive(Debug)]
pub struct Publisher {
    client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
    acked: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Publisher {
    /// Connects to the broker at `addr` as `client_id`.
    pub fn connect(addr: &BrokerAddress, client_id: &str) -> Publisher {
        let mut options = MqttOptions::new(client_id, addr.host.clone(), addr.port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(256 * 1024, 256 * 1024);
        let (client, mut events) = AsyncClient::new(options, 10_000);
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = acked.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "MQTT publisher disconnected; reconnecting in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Publisher {
            client,
            task,
            acked,
        }
    }

    /// Waits (at most `timeout`) until the broker has acknowledged `sent` messages: whether it
    /// has.
    pub async fn settle(&self, sent: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.acked.load(std::sync::atomic::Ordering::Relaxed) < sent {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Publishes `payload` on `topic` (queued; sent by the connection's task).
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), rumqttc::ClientError> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
