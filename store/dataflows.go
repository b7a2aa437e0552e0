package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// ConnectorRef routes a data flow's samples (of one topic, or "*") to an
// output connector.
type ConnectorRef struct {
	ID    string `json:"id"`
	Topic string `json:"topic"`
}

// DataFlow links a device type to output connectors.
type DataFlow struct {
	ID               string `gorm:"primaryKey"`
	Placement        `gorm:"embedded"`
	DeviceTypeID     string
	Name             string
	Description      *string
	OutputConnectors []ConnectorRef `gorm:"serializer:json"`
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// DataFlows is the repository of data flows.
type DataFlows struct {
	inWorkspace[DataFlow]
}

// Create inserts f with a new id.
func (r *DataFlows) Create(ctx context.Context, f *DataFlow) error {
	return insertNew(ctx, r.db, f, "08", func(id string, at time.Time) { f.ID, f.Version, f.CreatedAt, f.UpdatedAt = id, 1, at, at })
}

// Update writes name, description, device type and connectors; with
// a version, only if the data flow is still at it.
func (r *DataFlows) Update(ctx context.Context, f *DataFlow, version *int64) (*DataFlow, error) {
	return updateAt(ctx, r.db, f, f.ID, version, func(next int64) { f.Version, f.UpdatedAt = next, now() },
		"name", "description", "device_type_id", "output_connectors")
}

// Delete removes the data flow; one still used by a device is ErrConflict.
func (r *DataFlows) Delete(ctx context.Context, id string) error {
	return removeUnused(ctx, r.db, &DataFlow{}, id, &Device{}, "data_flow_id")
}

// removeUnused deletes the row id of model unless a row of user refers to it
// through column.
func removeUnused(ctx context.Context, db *gorm.DB, model any, id string, user any, column string) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(user).Where(column+" = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrConflict
		}
		res := tx.Where("id = ?", id).Delete(model)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// ByID returns the data flows with these ids, by id (a batch lookup
// for device pages); unknown ids are absent.
func (r *DataFlows) ByID(ctx context.Context, ids []string) (map[string]DataFlow, error) {
	return rowsByID(ctx, r.db, ids, func(f *DataFlow) string { return f.ID })
}
