use crate::error::{IssuingError, NotFoundAs, Result};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::principal::Principal;
use crate::service::{now_us, Audit, EventExt, Issuing};
use crate::views::VehicleView;
use domain::{money, validate, FieldError, GroupId, Product, Role, VehicleId};
use serde::Deserialize;
use store::{ActiveStatus, Effects, Store, VehicleRecord};

pub const MAX_PLATE_CHARS: usize = 16;
/// The largest tank a fleet vehicle plausibly has: a road tanker's own fuel tanks, not its
/// cargo (2,000 litres).
pub const MAX_TANK_CAPACITY_ML: i64 = 2_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVehicle {
    pub plate: String,
    /// Fuel grades and other products the vehicle takes.
    pub products: Vec<Product>,
    pub tank_capacity_ml: i64,
    pub group_id: Option<GroupId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateVehicle {
    pub plate: Option<String>,
    pub products: Option<Vec<Product>>,
    pub tank_capacity_ml: Option<i64>,
    pub group_id: Option<GroupId>,
}

fn plate(value: &str) -> Result<String, FieldError> {
    let plate = validate::text("plate", value, MAX_PLATE_CHARS)?.to_uppercase();
    if !plate.chars().all(|c| c.is_alphanumeric() || c == ' ' || c == '-') {
        return Err(FieldError::invalid("plate", "letters, digits, spaces and hyphens only"));
    }
    Ok(plate)
}

fn products(value: &[Product]) -> Result<Vec<Product>, FieldError> {
    let mut list = value.to_vec();
    list.sort();
    list.dedup();
    if list.is_empty() {
        return Err(FieldError::invalid("products", "name at least one product the vehicle takes"));
    }
    Ok(list)
}

fn tank(value: i64) -> Result<i64, FieldError> {
    let ml = money::positive_volume("tank_capacity_ml", value)?;
    if ml > MAX_TANK_CAPACITY_ML {
        return Err(FieldError::out_of_range(
            "tank_capacity_ml",
            format!("must be at most {MAX_TANK_CAPACITY_ML} ml"),
        ));
    }
    Ok(ml)
}

impl<S: Store> Issuing<S> {
    pub async fn create_vehicle(
        &self,
        who: &Principal,
        req: &CreateVehicle,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<VehicleView>> {
        who.require(&[Role::Owner, Role::Admin], "only owners and admins manage vehicles")?;
        if let Some(replayed) = idempotency::replay(&self.store, who, key).await? {
            return Ok(replayed);
        }
        let org = who.org()?;
        let group = self.placement(who, org, req.group_id).await?;
        let now = now_us();
        let vehicle = VehicleRecord {
            id: VehicleId::new(),
            org_id: org,
            group_id: group,
            group_path: None,
            plate: plate(&req.plate)?,
            products: products(&req.products)?,
            tank_capacity_ml: tank(req.tank_capacity_ml)?,
            status: ActiveStatus::Active,
            created_us: now,
            version: 1,
        };
        let view = VehicleView::from(&vehicle);
        let event = Audit { actor: who, at_us: now }
            .on(Some(org), "vehicle", vehicle.id.0, "vehicle.created")
            .after(&view);
        let fx = Effects::audit(vec![event])
            .with_idempotency(idempotency::record(who, key, &view)?)
            .placing_into(org, group);
        let result = self.store.create_vehicle(&vehicle, fx).await.map(|()| view);
        idempotency::settle(&self.store, who, key, result).await
    }

    /// Where a new object goes: a managed group, or org level (owners only).
    pub(crate) async fn placement(
        &self,
        who: &Principal,
        org: domain::OrgId,
        group: Option<GroupId>,
    ) -> Result<Option<GroupId>> {
        match group {
            Some(g) => Ok(Some(self.managed_group(who, org, g, "group_id").await?)),
            None if who.role == Role::Owner => Ok(None),
            None => Err(FieldError::invalid("group_id", "must be a group you manage").into()),
        }
    }

    pub(crate) async fn visible_vehicle(
        &self,
        who: &Principal,
        id: VehicleId,
    ) -> Result<VehicleRecord> {
        let org = who.org().map_err(|_| IssuingError::NotFound("vehicle"))?;
        let vehicle = self.store.get_vehicle(org, id).await.or_not_found("vehicle")?;
        if who.manages(org, vehicle.group_path.as_deref()) {
            Ok(vehicle)
        } else {
            Err(IssuingError::NotFound("vehicle"))
        }
    }

    pub async fn get_vehicle(&self, who: &Principal, id: VehicleId) -> Result<VehicleView> {
        Ok(VehicleView::from(&self.visible_vehicle(who, id).await?))
    }

    pub async fn list_vehicles(&self, who: &Principal) -> Result<Vec<VehicleView>> {
        let vehicles = self.store.list_vehicles(who.org()?, &who.fleet_scope()?).await?;
        Ok(vehicles.iter().map(VehicleView::from).collect())
    }

    pub async fn update_vehicle(
        &self,
        who: &Principal,
        id: VehicleId,
        req: &UpdateVehicle,
    ) -> Result<VehicleView> {
        let mut vehicle = self.visible_vehicle(who, id).await?;
        let before = VehicleView::from(&vehicle);
        if let Some(p) = &req.plate {
            vehicle.plate = plate(p)?;
        }
        if let Some(p) = &req.products {
            vehicle.products = products(p)?;
        }
        if let Some(t) = req.tank_capacity_ml {
            vehicle.tank_capacity_ml = tank(t)?;
        }
        let mut moved_to = None;
        if let Some(g) = req.group_id.filter(|g| vehicle.group_id != Some(*g)) {
            vehicle.group_id = Some(self.managed_group(who, vehicle.org_id, g, "group_id").await?);
            moved_to = Some(g);
        }
        self.save_vehicle(who, vehicle, before, "vehicle.updated", moved_to).await
    }

    pub async fn deactivate_vehicle(&self, who: &Principal, id: VehicleId) -> Result<VehicleView> {
        let mut vehicle = self.visible_vehicle(who, id).await?;
        if vehicle.status == ActiveStatus::Deactivated {
            return Err(IssuingError::conflict(
                "ALREADY_DEACTIVATED",
                "the vehicle is already deactivated",
            ));
        }
        let before = VehicleView::from(&vehicle);
        vehicle.status = ActiveStatus::Deactivated;
        self.save_vehicle(who, vehicle, before, "vehicle.deactivated", None).await
    }

    async fn save_vehicle(
        &self,
        who: &Principal,
        vehicle: VehicleRecord,
        before: VehicleView,
        action: &str,
        moved_to: Option<GroupId>,
    ) -> Result<VehicleView> {
        let after = VehicleView::from(&vehicle);
        let event = Audit { actor: who, at_us: now_us() }
            .on(Some(vehicle.org_id), "vehicle", vehicle.id.0, action)
            .before(&before)
            .after(&after);
        let fx = Effects::audit(vec![event]).placing_into(vehicle.org_id, moved_to);
        self.store.update_vehicle(&vehicle, fx).await?;
        Ok(after)
    }
}
