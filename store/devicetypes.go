package store

import (
	"context"
	"encoding/json"
	"time"
)

// DeviceType names, per topic, the JSON Schema that the data of a device of
// this type must match.
type DeviceType struct {
	ID          string `gorm:"primaryKey"`
	Placement   `gorm:"embedded"`
	Name        string
	Description *string
	Schemas     map[string]json.RawMessage `gorm:"serializer:json"`
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DeviceTypes is the repository of device types.
type DeviceTypes struct {
	inWorkspace[DeviceType]
}

// Create inserts t with a new id.
func (r *DeviceTypes) Create(ctx context.Context, t *DeviceType) error {
	return insertNew(ctx, r.db, t, "0d", func(id string, at time.Time) { t.ID, t.Version, t.CreatedAt, t.UpdatedAt = id, 1, at, at })
}

// Update writes name, description and schemas; with a version,
// only if the device type is still at it.
func (r *DeviceTypes) Update(ctx context.Context, t *DeviceType, version *int64) (*DeviceType, error) {
	return updateAt(ctx, r.db, t, t.ID, version, func(next int64) { t.Version, t.UpdatedAt = next, now() },
		"name", "description", "schemas")
}

// Delete removes the device type; one still used by a data flow is ErrConflict.
func (r *DeviceTypes) Delete(ctx context.Context, id string) error {
	return removeUnused(ctx, r.db, &DeviceType{}, id, &DataFlow{}, "device_type_id")
}

// ByID returns the device types with these ids, by id (a batch
// lookup for data flow and device pages); unknown ids are absent.
func (r *DeviceTypes) ByID(ctx context.Context, ids []string) (map[string]DeviceType, error) {
	return rowsByID(ctx, r.db, ids, func(t *DeviceType) string { return t.ID })
}
