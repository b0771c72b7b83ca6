//! Hub devices per location and their last reported flags.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TryIntoModel,
};

use crate::domain::reminders::AlertKind;

use super::StoreResult;
use super::entities::device;

/// A device row.
pub type Device = device::Model;

/// Records the state of one alert flag on a device (creating the device on first report).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    location_id: i64,
    external_id: &str,
    alert: AlertKind,
    open: bool,
) -> StoreResult<Device> {
    let existing = device::Entity::find()
        .filter(device::Column::LocationId.eq(location_id))
        .filter(device::Column::ExternalId.eq(external_id))
        .one(db)
        .await?;
    let mut am = match existing {
        Some(d) => d.into_active_model(),
        None => device::ActiveModel {
            location_id: Set(location_id),
            external_id: Set(external_id.to_owned()),
            online: Set(true),
            battery_low: Set(false),
            filter_due: Set(false),
            ..Default::default()
        },
    };
    match alert {
        AlertKind::HubOffline => am.online = Set(!open),
        AlertKind::BatteryLow => am.battery_low = Set(open),
        AlertKind::AirFilterDue => am.filter_due = Set(open),
    }
    am.updated_at = Set(Utc::now());
    Ok(am.save(db).await?.try_into_model()?)
}
