package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// DeviceType names, per topic, the JSON Schema that the data of a device of
// this type must match.
type DeviceType struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	WorkspaceID    string
	Name           string
	Description    *string
	Schemas        map[string]json.RawMessage `gorm:"serializer:json"`
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ConnectorRef routes a data flow's samples (of one topic, or "*") to an
// output connector.
type ConnectorRef struct {
	ID    string `json:"id"`
	Topic string `json:"topic"`
}

// DataFlow links a device type to output connectors.
type DataFlow struct {
	ID               string `gorm:"primaryKey"`
	OrganizationID   string
	WorkspaceID      string
	DeviceTypeID     string
	Name             string
	Description      *string
	OutputConnectors []ConnectorRef `gorm:"serializer:json"`
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Device is an akenza device (an asset of type DEVICE).
type Device struct {
	ID             string `gorm:"primaryKey"`
	OrganizationID string
	WorkspaceID    string
	DeviceID       string // the physical id
	DataFlowID     string
	Name           string
	Description    *string
	Connectivity   string
	OnlineTimeout  int
	Properties     map[string]any `gorm:"serializer:json"`
	LastSampleAt   *time.Time
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Sample is one stored data point of a device.
type Sample struct {
	ID         string `gorm:"primaryKey"`
	DeviceID   string // the keyplane device id
	Topic      string
	Timestamp  time.Time `gorm:"column:ts"`
	DateStored time.Time
	Data       string // a JSON object
	Meta       *string
}

// DeviceFields are the sortable fields of asset pages; DeviceTypeFields and
// DataFlowFields those of their pages.
var (
	DeviceFields = ndata.Schema{Fields: map[string]ndata.Field{
		"id":       {Column: "id", Kind: ndata.String, Sortable: true},
		"name":     {Column: "name", Kind: ndata.String, Sortable: true},
		"deviceId": {Column: "device_id", Kind: ndata.String, Sortable: true},
		"created":  {Column: "created_at", Kind: ndata.Time, Sortable: true},
		"updated":  {Column: "updated_at", Kind: ndata.Time, Sortable: true},
	}, TieBreak: "id"}
	DeviceTypeFields = OrganizationFields
	DataFlowFields   = OrganizationFields
)

// Devices is the repository of devices, device types, data flows and samples.
type Devices struct {
	db      *gorm.DB
	dialect Dialect
}

// ListDeviceTypes returns a page of the workspace's device types.
func (r *Devices) ListDeviceTypes(ctx context.Context, workspaceID string, q ndata.Query, search string) ([]DeviceType, int64, error) {
	return list[DeviceType](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return nameSearch(db.Where("workspace_id = ?", workspaceID), search)
	})
}

// GetDeviceType returns the device type id, or ErrNotFound.
func (r *Devices) GetDeviceType(ctx context.Context, id string) (*DeviceType, error) {
	return first[DeviceType](ctx, r.db, "id = ?", id)
}

// CreateDeviceType inserts t with a new id.
func (r *Devices) CreateDeviceType(ctx context.Context, t *DeviceType) error {
	id, err := newID("0d")
	if err != nil {
		return err
	}
	t.ID, t.Version, t.CreatedAt, t.UpdatedAt = id, 1, now(), now()
	return insert(ctx, r.db, t)
}

// UpdateDeviceType writes name, description and schemas; with a version,
// only if the device type is still at it.
func (r *Devices) UpdateDeviceType(ctx context.Context, t *DeviceType, version *int64) (*DeviceType, error) {
	return updateAt(ctx, r.db, t, t.ID, version, func(next int64) { t.Version, t.UpdatedAt = next, now() },
		"name", "description", "schemas")
}

// DeleteDeviceType removes the device type; one still used by a data flow is ErrConflict.
func (r *Devices) DeleteDeviceType(ctx context.Context, id string) error {
	return r.removeUnused(ctx, &DeviceType{}, id, &DataFlow{}, "device_type_id")
}

// ListDataFlows returns a page of the workspace's data flows.
func (r *Devices) ListDataFlows(ctx context.Context, workspaceID string, q ndata.Query, search string) ([]DataFlow, int64, error) {
	return list[DataFlow](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		return nameSearch(db.Where("workspace_id = ?", workspaceID), search)
	})
}

// GetDataFlow returns the data flow id, or ErrNotFound.
func (r *Devices) GetDataFlow(ctx context.Context, id string) (*DataFlow, error) {
	return first[DataFlow](ctx, r.db, "id = ?", id)
}

// CreateDataFlow inserts f with a new id.
func (r *Devices) CreateDataFlow(ctx context.Context, f *DataFlow) error {
	id, err := newID("08")
	if err != nil {
		return err
	}
	f.ID, f.Version, f.CreatedAt, f.UpdatedAt = id, 1, now(), now()
	return insert(ctx, r.db, f)
}

// UpdateDataFlow writes name, description, device type and connectors; with
// a version, only if the data flow is still at it.
func (r *Devices) UpdateDataFlow(ctx context.Context, f *DataFlow, version *int64) (*DataFlow, error) {
	return updateAt(ctx, r.db, f, f.ID, version, func(next int64) { f.Version, f.UpdatedAt = next, now() },
		"name", "description", "device_type_id", "output_connectors")
}

// DeleteDataFlow removes the data flow; one still used by a device is ErrConflict.
func (r *Devices) DeleteDataFlow(ctx context.Context, id string) error {
	return r.removeUnused(ctx, &DataFlow{}, id, &Device{}, "data_flow_id")
}

// removeUnused deletes the row id of model unless a row of user refers to it
// through column.
func (r *Devices) removeUnused(ctx context.Context, model any, id string, user any, column string) error {
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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

// AssetFilter narrows an asset page: to an organization or to workspaces
// (nil Workspaces: all of the organization), by name and by data flow.
type AssetFilter struct {
	OrganizationID string
	Workspaces     []string
	Search         string
	DataFlowID     string
	// Online, when set, keeps devices whose last sample is (or is not)
	// within their online timeout at Now.
	Online *bool
	Now    time.Time
	// TagIDs, when not empty, keeps devices carrying at least one of these tags.
	TagIDs []string
	// IDs, when not nil, keeps only these devices.
	IDs []string
}

// ListDevices returns a page of devices matching f.
func (r *Devices) ListDevices(ctx context.Context, f AssetFilter, q ndata.Query) ([]Device, int64, error) {
	return list[Device](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
		if f.OrganizationID != "" {
			db = db.Where("organization_id = ?", f.OrganizationID)
		}
		db = nameSearch(restrictIDs(restrictIDs(db, "workspace_id", f.Workspaces), "id", f.IDs), f.Search)
		if f.DataFlowID != "" {
			db = db.Where("data_flow_id = ?", f.DataFlowID)
		}
		if len(f.TagIDs) > 0 {
			db = db.Where("id IN (SELECT device_id FROM device_tags WHERE tag_id IN ?)", f.TagIDs)
		}
		if f.Online != nil {
			// online: a sample within online_timeout seconds of now. The
			// cut-off is computed per row from the row's own timeout.
			online := r.onlineCondition()
			if *f.Online {
				db = db.Where(online, f.Now)
			} else {
				db = db.Where("NOT ("+online+")", f.Now)
			}
		}
		return db
	})
}

// onlineCondition is "last_sample_at + online_timeout seconds > ?" in the
// store's dialect.
func (r *Devices) onlineCondition() string {
	if r.dialect == Postgres {
		return "last_sample_at IS NOT NULL AND last_sample_at + online_timeout * interval '1 second' > ?"
	}
	return "last_sample_at IS NOT NULL AND unixepoch(last_sample_at) + online_timeout > unixepoch(?)"
}

// GetDevice returns the device id, or ErrNotFound.
func (r *Devices) GetDevice(ctx context.Context, id string) (*Device, error) {
	return first[Device](ctx, r.db, "id = ?", id)
}

// DeviceByPhysicalID finds a device by its physical id, in one workspace or
// (workspaceID empty) anywhere; several matches are ErrConflict.
func (r *Devices) DeviceByPhysicalID(ctx context.Context, deviceID, workspaceID string) (*Device, error) {
	var found []Device
	q := r.db.WithContext(ctx).Where("device_id = ?", deviceID)
	if workspaceID != "" {
		q = q.Where("workspace_id = ?", workspaceID)
	}
	if err := q.Limit(2).Find(&found).Error; err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, ErrNotFound
	case 1:
		return &found[0], nil
	default:
		return nil, ErrConflict
	}
}

// CreateDevice inserts d with a new id and the tags tagIDs (which the caller
// has checked are of d's workspace), in one transaction; a physical id taken
// in the workspace is ErrConflict.
func (r *Devices) CreateDevice(ctx context.Context, d *Device, tagIDs ...string) error {
	id, err := newID("02")
	if err != nil {
		return err
	}
	d.ID, d.Version, d.CreatedAt, d.UpdatedAt = id, 1, now(), now()
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insert(ctx, tx, d); err != nil {
			return err
		}
		return setDeviceTags(ctx, tx, d.ID, tagIDs, false)
	})
}

// UpdateDevice writes the device's editable fields and replaces its tags
// with tagIDs (none: no tags), in one transaction; with a version, only if
// the device is still at it.
func (r *Devices) UpdateDevice(ctx context.Context, d *Device, version *int64, tagIDs ...string) (*Device, error) {
	var out *Device
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = updateAt(ctx, tx, d, d.ID, version, func(next int64) { d.Version, d.UpdatedAt = next, now() },
			"name", "description", "device_id", "data_flow_id", "connectivity", "online_timeout", "properties")
		if err != nil {
			return err
		}
		return setDeviceTags(ctx, tx, d.ID, tagIDs, true)
	})
	return out, err
}

// DevicesByPhysicalID returns up to limit devices, in any workspace, whose
// physical id is deviceID, by id.
func (r *Devices) DevicesByPhysicalID(ctx context.Context, deviceID string, limit int) ([]Device, error) {
	var found []Device
	if err := r.db.WithContext(ctx).Where("device_id = ?", deviceID).Order("id").Limit(limit).Find(&found).Error; err != nil {
		return nil, fmt.Errorf("devices by physical id: %w", err)
	}
	return found, nil
}

// DataFlowsByID returns the data flows with these ids, by id (a batch lookup
// for device pages); unknown ids are absent.
func (r *Devices) DataFlowsByID(ctx context.Context, ids []string) (map[string]DataFlow, error) {
	return rowsByID(ctx, r.db, ids, func(f *DataFlow) string { return f.ID })
}

// DeviceTypesByID returns the device types with these ids, by id (a batch
// lookup for data flow and device pages); unknown ids are absent.
func (r *Devices) DeviceTypesByID(ctx context.Context, ids []string) (map[string]DeviceType, error) {
	return rowsByID(ctx, r.db, ids, func(t *DeviceType) string { return t.ID })
}

// rowsByID reads the rows of T whose id is one of ids, in one query, keyed by id.
func rowsByID[T any](ctx context.Context, db *gorm.DB, ids []string, id func(*T) string) (map[string]T, error) {
	out := make(map[string]T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []T
	if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		var zero T
		return nil, fmt.Errorf("%T by id: %w", zero, err)
	}
	for i := range rows {
		out[id(&rows[i])] = rows[i]
	}
	return out, nil
}

// DeleteDevice removes the device and its samples.
func (r *Devices) DeleteDevice(ctx context.Context, id string) error {
	_, err := remove[Device](ctx, r.db, "id", id, nil)
	return err
}
