use payhub_core::IdGenerator;
use payhub_core::id::{DeliveryId, EventId, WebhookEndpointId};
use payhub_core::{Event, EventType, Mode};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{json, parsed, time, to_json};
use crate::endpoints::EndpointStatus;
use crate::table::Table;
use crate::{Database, Page, StoreError, Tx, millis, page};

const EVENTS: Table<Event, 7> = Table {
    name: "events",
    resource: "event",
    columns: ["id", "mode", "type", "resource_id", "sequence", "data", "created_at"],
    decode: from_row,
};

pub type EventPage = Page<Event>;

fn from_row(row: &AnyRow) -> Result<Event, StoreError> {
    let id: String = row.try_get("id")?;
    Ok(Event {
        id: EventId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        mode: parsed(row, "mode", |s| s.parse().ok())?,
        event_type: parsed(row, "type", EventType::parse)?,
        resource_id: row.try_get("resource_id")?,
        sequence: row
            .try_get::<i64, _>("sequence")?
            .try_into()
            .map_err(|_| StoreError::Corrupt("negative event sequence".into()))?,
        data: json(row, "data")?,
        created_at: time(row, "created_at")?,
    })
}

impl Tx {
    /// Appends an event to the stream and queues its delivery to every enabled endpoint of the
    /// same mode whose filter selects it, and its mail to every recipient of its type — in the caller's transaction, so a state change and
    /// its notification are committed together (the outbox). Delivery ids come from `ids`.
    /// The event's `sequence` is assigned by the insert itself, one more than its resource's
    /// latest (read from the `(resource_id, sequence)` index): the unit of work has written (and
    /// so locked) the resource first, so its events are numbered one transaction at a time.
    pub async fn insert_event(&mut self, event: &Event, ids: &IdGenerator) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO events (id, mode, type, resource_id, sequence, data, created_at) \
             SELECT $1, $2, $3, $4, COALESCE(MAX(sequence), 0) + 1, $5, $6 FROM events WHERE resource_id = $4",
            vec![
                event.id.as_str().into(),
                event.mode.as_str().into(),
                event.event_type.as_str().into(),
                (&event.resource_id).into(),
                to_json(&event.data).into(),
                millis(event.created_at).into(),
            ],
        )
        .await?;

        for endpoint_id in self.endpoints_selecting(event.mode, event.event_type, None).await? {
            let delivery_id = DeliveryId::generate(ids, event.created_at);
            self.queue_delivery(&delivery_id, event, &endpoint_id).await?;
        }
        self.queue_mails(event).await
    }

    /// The enabled endpoints of `mode` (or just `only`, if it is one of them) whose filter
    /// selects `event_type`.
    pub(crate) async fn endpoints_selecting(
        &mut self,
        mode: Mode,
        event_type: EventType,
        only: Option<&WebhookEndpointId>,
    ) -> Result<Vec<WebhookEndpointId>, StoreError> {
        let endpoints = self
            .fetch_all(
                "SELECT id, event_types FROM webhook_endpoints WHERE mode = $1 AND status = $2 \
                 AND ($3 IS NULL OR id = $3)",
                vec![mode.as_str().into(), EndpointStatus::Enabled.as_str().into(), only.map(|id| id.as_str()).into()],
            )
            .await?;
        let mut selecting = Vec::new();
        for endpoint in endpoints {
            let filters: Vec<String> = json(&endpoint, "event_types")?;
            if filters.iter().any(|f| event_type.matches(f)) {
                selecting.push(parsed(&endpoint, "id", |s| WebhookEndpointId::parse(s).ok())?);
            }
        }
        Ok(selecting)
    }

    pub(crate) async fn queue_delivery(
        &mut self,
        id: &DeliveryId,
        event: &Event,
        endpoint_id: &WebhookEndpointId,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO deliveries (id, event_id, endpoint_id, mode, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
             ON CONFLICT (event_id, endpoint_id) DO NOTHING",
            vec![
                id.as_str().into(),
                event.id.as_str().into(),
                endpoint_id.as_str().into(),
                event.mode.as_str().into(),
                millis(event.created_at).into(),
            ],
        )
        .await
    }
}

impl Database {
    pub async fn event(&self, mode: Mode, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.find_in_mode(&EVENTS, mode, id.as_str()).await
    }

    /// An event by id whatever its mode (for the dispatcher).
    pub async fn find_event(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.find_by_id(&EVENTS, id.as_str()).await
    }

    /// The events with one of `ids`, whatever their mode, in one query (for the dispatcher's
    /// batches; ids not found are left out).
    pub async fn find_events(&self, ids: &[&EventId]) -> Result<Vec<Event>, StoreError> {
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        self.find_by_ids(&EVENTS, &ids).await
    }

    /// Events newest first, optionally of one type or one resource.
    pub async fn list_events(
        &self,
        mode: Mode,
        event_type: Option<EventType>,
        resource_id: Option<&str>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<EventPage, StoreError> {
        // The stream is ordered by `seq`, not by id, and so is its cursor.
        let sql = format!(
            "{} WHERE mode = $1 AND ($2 = '' OR type = $2) \
             AND ($3 = '' OR resource_id = $3) \
             AND ($4 = '' OR seq < (SELECT seq FROM events WHERE id = $4)) \
             ORDER BY seq DESC LIMIT $5",
            EVENTS.select()
        );
        let params = [
            mode.as_str().into(),
            event_type.map_or("", |t| t.as_str()).into(),
            resource_id.unwrap_or("").into(),
            starting_after.unwrap_or("").into(),
            (i64::from(limit) + 1).into(),
        ];
        let rows = self.read_all(&sql, &params).await?;
        page(rows, limit, from_row)
    }

    /// Every event of a resource, in the order they happened: by their place among its events,
    /// the order of the index on `(resource_id, sequence)`.
    pub async fn events_of(&self, resource_id: &str) -> Result<Vec<Event>, StoreError> {
        self.find_all(&EVENTS, "WHERE resource_id = $1 ORDER BY sequence", &[resource_id.into()]).await
    }
}
