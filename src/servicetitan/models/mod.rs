//! Typed ServiceTitan records (serde, camelCase). Reads ignore unknown fields and tolerate
//! missing ones; writes omit unset optional fields.
mod accounting;
mod crm;
mod dispatch;
mod jpm;
mod marketing;
mod memberships;
mod pricebook;
mod settings;
pub(crate) mod ts;

pub use accounting::*;
pub use crm::*;
pub use dispatch::*;
pub use jpm::*;
pub use marketing::*;
pub use memberships::*;
pub use pricebook::*;
pub use settings::*;

use serde::{Deserialize, Serialize};

/// A custom field value as responses carry it: `typeId`, `name` and a string `value`
/// (either may be `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomFieldValue {
    /// The custom-field type ID.
    pub type_id: i64,
    /// The field's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The value; ServiceTitan keeps values as strings, numeric fields included.
    pub value: Option<String>,
}

/// A custom field value to write (`CustomFieldUpdateModel`: `typeId` and `value`, nothing else).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldWrite {
    /// The custom-field type ID.
    pub type_id: i64,
    /// The value.
    pub value: String,
}

impl CustomFieldWrite {
    /// A value to write.
    pub fn new(type_id: i64, value: impl Into<String>) -> Self {
        Self {
            type_id,
            value: value.into(),
        }
    }
}

/// The full `customFields` list to PATCH so that only field `type_id` changes: every other
/// field that has a value keeps it exactly, in its order (ServiceTitan's PATCH replaces the
/// whole list, and a field left out loses its value). Fields without a value are left out,
/// which keeps them empty.
pub fn merged_custom_fields(
    current: &[CustomFieldValue],
    type_id: i64,
    value: &str,
) -> Vec<CustomFieldWrite> {
    let mut out: Vec<CustomFieldWrite> = current
        .iter()
        .filter(|f| f.type_id != type_id)
        .filter_map(|f| {
            f.value
                .as_ref()
                .map(|v| CustomFieldWrite::new(f.type_id, v))
        })
        .collect();
    let ours = CustomFieldWrite::new(type_id, value);
    match current.iter().position(|f| f.type_id == type_id) {
        Some(i) => out.insert(i.min(out.len()), ours),
        None => out.push(ours),
    }
    out
}

/// The full `tagTypeIds` list with `tag` added, every other tag kept (PATCH replaces the list).
/// `None` when the tag is already there, so no write is needed.
pub fn with_tag(current: &[i64], tag: i64) -> Option<Vec<i64>> {
    if current.contains(&tag) {
        return None;
    }
    let mut tags = current.to_vec();
    tags.push(tag);
    Some(tags)
}

/// One key/value of `externalData`, as every response carries it (`Crm.V2.ExternalDataModel`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalDataItem {
    /// Key (ours).
    pub key: String,
    /// Value (ours).
    pub value: String,
}

/// The value stored under `key` in a response's `externalData` list. Responses carry only the
/// entries of the application GUID the request named (`externalDataApplicationGuid`).
pub fn external_value<'a>(items: &'a [ExternalDataItem], key: &str) -> Option<&'a str> {
    items
        .iter()
        .find(|i| i.key == key)
        .map(|i| i.value.as_str())
}

/// `externalData` in a create or update *request*: our application GUID and its entries.
/// Responses use a plain list of [`ExternalDataItem`] instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalData {
    /// Our application GUID.
    pub application_guid: String,
    /// The entries.
    pub external_data: Vec<ExternalDataItem>,
}

impl ExternalData {
    /// One key/value under our application GUID.
    pub fn single(application_guid: &str, key: &str, value: &str) -> Self {
        Self {
            application_guid: application_guid.to_owned(),
            external_data: vec![ExternalDataItem {
                key: key.to_owned(),
                value: value.to_owned(),
            }],
        }
    }
}

/// Deserializes `null` as the type's default (ServiceTitan sends `null` for many empty lists
/// and strings that the spec marks nullable).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Money and quantities: the accounting module sends decimals as JSON strings (`"12.50"`);
/// a number or `null` is accepted too.
pub(crate) fn decimal<'de, D>(d: D) -> Result<f64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(f64),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(0.0),
        Some(Raw::Number(n)) => Ok(n),
        Some(Raw::Text(s)) if s.trim().is_empty() => Ok(0.0),
        Some(Raw::Text(s)) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not a decimal"))),
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    /// Street line.
    pub street: String,
    /// Unit / apartment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// ZIP / postal code.
    pub zip: String,
    /// Country (required by ServiceTitan on writes).
    #[serde(deserialize_with = "null_default")]
    pub country: String,
}

/// An `{id, name}` reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdName {
    /// ID.
    pub id: i64,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
}

/// The answer to a create call that returns only an ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Created {
    /// The new record's ID.
    pub id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(type_id: i64, value: Option<&str>) -> CustomFieldValue {
        CustomFieldValue {
            type_id,
            name: Some(format!("field {type_id}")),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn merge_changes_only_our_field_and_keeps_the_others_in_order() {
        let current = [
            field(1, Some("gate 4411")),
            field(2, Some("50")),
            field(3, Some("")),
        ];
        let merged = merged_custom_fields(&current, 2, "80");
        assert_eq!(
            merged,
            vec![
                CustomFieldWrite::new(1, "gate 4411"),
                CustomFieldWrite::new(2, "80"),
                CustomFieldWrite::new(3, ""),
            ]
        );
    }

    #[test]
    fn merge_adds_a_missing_field_and_drops_valueless_ones() {
        let current = [field(1, Some("keep")), field(7, None)];
        let merged = merged_custom_fields(&current, 2, "10");
        assert_eq!(
            merged,
            vec![
                CustomFieldWrite::new(1, "keep"),
                CustomFieldWrite::new(2, "10")
            ]
        );
        assert_eq!(
            merged_custom_fields(&[], 2, "0"),
            vec![CustomFieldWrite::new(2, "0")]
        );
    }

    #[test]
    fn write_model_has_only_type_id_and_value() {
        let v = serde_json::to_value(CustomFieldWrite::new(5, "1")).unwrap();
        assert_eq!(v, serde_json::json!({"typeId": 5, "value": "1"}));
    }

    #[test]
    fn adding_a_tag_keeps_the_others_and_is_a_no_op_when_present() {
        assert_eq!(with_tag(&[3, 9], 5), Some(vec![3, 9, 5]));
        assert_eq!(with_tag(&[3, 5], 5), None);
    }

    #[test]
    fn decimals_read_from_strings_numbers_and_null() {
        #[derive(Deserialize)]
        struct M {
            #[serde(deserialize_with = "decimal", default)]
            a: f64,
        }
        let parse = |j: &str| serde_json::from_str::<M>(j).map(|m| m.a);
        assert_eq!(parse(r#"{"a":"12.50"}"#).unwrap(), 12.5);
        assert_eq!(parse(r#"{"a":3}"#).unwrap(), 3.0);
        assert_eq!(parse(r#"{"a":null}"#).unwrap(), 0.0);
        assert!(parse(r#"{"a":"abc"}"#).is_err());
    }

    #[test]
    fn external_values_read_from_the_response_list() {
        let items = vec![ExternalDataItem {
            key: "k".into(),
            value: "v".into(),
        }];
        assert_eq!(external_value(&items, "k"), Some("v"));
        assert_eq!(external_value(&items, "x"), None);
    }
}
