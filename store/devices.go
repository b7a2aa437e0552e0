package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/keyplane/keyplane/store/ndata"
)

// Device is an akenza device (an asset of type DEVICE).
type Device struct {
	ID            string `gorm:"primaryKey"`
	Placement     `gorm:"embedded"`
	DeviceID      string // the physical id
	DataFlowID    string
	Name          string
	Description   *string
	Connectivity  string
	OnlineTimeout int
	Properties    JSONObject
	LastSampleAt  *time.Time
	Version       int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// FlowName, DeviceTypeID and DeviceTypeName name the device's data flow
	// and device type: Get reads them in the device's own statement (the
	// other reads leave them empty).
	FlowName       string `gorm:"->"`
	DeviceTypeID   string `gorm:"->"`
	DeviceTypeName string `gorm:"->"`
}

// deviceColumns are the columns Device.columns scans.
const deviceColumns = "devices.id, devices.organization_id, devices.workspace_id, devices.device_id, devices.data_flow_id, " +
	"devices.name, devices.description, devices.connectivity, devices.online_timeout, devices.properties, " +
	"devices.last_sample_at, devices.version, devices.created_at, devices.updated_at"

func (*Device) selectColumns() string { return deviceColumns }

func (d *Device) columns() []any {
	return []any{&d.ID, &d.OrganizationID, &d.WorkspaceID, &d.DeviceID, &d.DataFlowID, &d.Name, &d.Description,
		&d.Connectivity, &d.OnlineTimeout, &d.Properties, &d.LastSampleAt, &d.Version, &d.CreatedAt, &d.UpdatedAt}
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

// Devices is the repository of devices.
type Devices struct {
	db      *gorm.DB
	dialect Dialect
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

// List returns a page of devices matching f, each with the names of its
// data flow and device type (as Get reads them).
func (r *Devices) List(ctx context.Context, f AssetFilter, q ndata.Query) ([]Device, int64, error) {
	ds, total, err := r.page(ctx, f, q)
	if err != nil {
		return nil, 0, err
	}
	return ds, total, r.nameFlows(ctx, ds)
}

// nameFlows fills in the data flow and device type names of ds with one
// statement over their distinct data flows.
func (r *Devices) nameFlows(ctx context.Context, ds []Device) error {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.DataFlowID)
	}
	slices.Sort(ids)
	if ids = slices.Compact(ids); len(ids) == 0 {
		return nil
	}
	type names struct{ flow, typeID, typeName string }
	flows := make(map[string]names, len(ids))
	in, args := inList(1, ids)
	err := queryRows(ctx, r.db, `SELECT f.id, f.name, COALESCE(t.id, ''), COALESCE(t.name, '')
		FROM data_flows f LEFT JOIN device_types t ON t.id = f.device_type_id WHERE f.id IN (`+in+`)`, args, func(rows rowScanner) error {
		var id string
		var n names
		if err := rows.Scan(&id, &n.flow, &n.typeID, &n.typeName); err != nil {
			return err
		}
		flows[id] = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("data flows of devices: %w", err)
	}
	for i := range ds {
		n := flows[ds[i].DataFlowID]
		ds[i].FlowName, ds[i].DeviceTypeID, ds[i].DeviceTypeName = n.flow, n.typeID, n.typeName
	}
	return nil
}

// page is one page of the devices matching f and their total.
func (r *Devices) page(ctx context.Context, f AssetFilter, q ndata.Query) ([]Device, int64, error) {
	return countedList[Device](ctx, r.db, q, func(db *gorm.DB) *gorm.DB {
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
	}, f.counted)
}

// counted is the total of an unfiltered asset page, from the row counters:
// the devices of an organization, or of some workspaces.
func (f AssetFilter) counted(ctx context.Context, db *gorm.DB, filters []ndata.Filter) (int64, bool, error) {
	if len(filters) > 0 || f.Search != "" || f.DataFlowID != "" || f.Online != nil || len(f.TagIDs) > 0 || f.IDs != nil {
		return 0, false, nil
	}
	switch {
	case f.OrganizationID != "" && f.Workspaces == nil:
		n, err := rowCounts(ctx, db, "devices.organization", []string{f.OrganizationID})
		return n, err == nil, err
	case f.OrganizationID == "" && len(f.Workspaces) > 0:
		n, err := rowCounts(ctx, db, "devices.workspace", f.Workspaces)
		return n, err == nil, err
	}
	return 0, false, nil
}

// onlineCondition is "last_sample_at + online_timeout seconds > ?" in the
// store's dialect.
func (r *Devices) onlineCondition() string {
	if r.dialect == Postgres {
		return "last_sample_at IS NOT NULL AND last_sample_at + online_timeout * interval '1 second' > ?"
	}
	return "last_sample_at IS NOT NULL AND unixepoch(last_sample_at) + online_timeout > unixepoch(?)"
}

// Get returns the device id with the names of its data flow and device
// type, in one statement, or ErrNotFound.
func (r *Devices) Get(ctx context.Context, id string) (*Device, error) {
	var d Device
	err := scanRow(ctx, r.db, `SELECT `+deviceColumns+`, COALESCE(f.name, ''), COALESCE(t.id, ''), COALESCE(t.name, '')
		FROM devices LEFT JOIN data_flows f ON f.id = devices.data_flow_id LEFT JOIN device_types t ON t.id = f.device_type_id
		WHERE devices.id = $1`, []any{id}, append(d.columns(), &d.FlowName, &d.DeviceTypeID, &d.DeviceTypeName)...)
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	return &d, nil
}

// ByPhysicalID finds a device by its physical id, in one workspace or
// (workspaceID empty) anywhere; several matches are ErrConflict.
func (r *Devices) ByPhysicalID(ctx context.Context, deviceID, workspaceID string) (*Device, error) {
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

// Create inserts d with a new id and the tags tagIDs (which the caller
// has checked are of d's workspace), in one transaction; a physical id taken
// in the workspace is ErrConflict.
func (r *Devices) Create(ctx context.Context, d *Device, tagIDs ...string) error {
	id, err := newID("02")
	if err != nil {
		return err
	}
	d.ID, d.Version, d.CreatedAt, d.UpdatedAt = id, 1, now(), now()
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insert(ctx, tx, d); err != nil {
			return err
		}
		return addDeviceTags(ctx, tx, d.ID, tagIDs)
	})
}

// Update writes the device's editable fields and replaces its tags
// with tagIDs (none: no tags), in one transaction; with a version, only if
// the device is still at it.
func (r *Devices) Update(ctx context.Context, d *Device, version *int64, tagIDs ...string) (*Device, error) {
	var out *Device
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		out, err = updateAt(ctx, tx, d, d.ID, version, func(next int64) { d.Version, d.UpdatedAt = next, now() },
			"name", "description", "device_id", "data_flow_id", "connectivity", "online_timeout", "properties")
		if err != nil {
			return err
		}
		if err := clearDeviceTags(ctx, tx, d.ID); err != nil {
			return err
		}
		return addDeviceTags(ctx, tx, d.ID, tagIDs)
	})
	return out, err
}

// ListByPhysicalID returns up to limit devices, in any workspace, whose
// physical id is deviceID, by id.
func (r *Devices) ListByPhysicalID(ctx context.Context, deviceID string, limit int) ([]Device, error) {
	var found []Device
	if err := r.db.WithContext(ctx).Where("device_id = ?", deviceID).Order("id").Limit(limit).Find(&found).Error; err != nil {
		return nil, fmt.Errorf("devices by physical id: %w", err)
	}
	return found, nil
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

// Delete removes the device and its samples.
func (r *Devices) Delete(ctx context.Context, id string) error {
	_, err := remove[Device](ctx, r.db, "id", id, nil)
	return err
}
