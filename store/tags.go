package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Tag groups devices of one workspace; its name is unique in the workspace.
type Tag struct {
	ID          string `gorm:"primaryKey"`
	Placement   `gorm:"embedded"`
	Name        string
	Description *string
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// tagColumns are the columns Tag.columns scans.
const tagColumns = "tags.id, tags.organization_id, tags.workspace_id, tags.name, tags.description, tags.version, tags.created_at, tags.updated_at"

func (*Tag) selectColumns() string { return tagColumns }

func (t *Tag) columns() []any {
	return []any{&t.ID, &t.OrganizationID, &t.WorkspaceID, &t.Name, &t.Description, &t.Version, &t.CreatedAt, &t.UpdatedAt}
}

// DeviceTag says that a device carries a tag. Rows go with their device or
// tag (ON DELETE CASCADE).
type DeviceTag struct {
	DeviceID string `gorm:"primaryKey"`
	TagID    string `gorm:"primaryKey"`
}

// TagFields are the sortable fields of tag pages.
var TagFields = OrganizationFields

// Tags is the repository of tags and of which devices carry them.
type Tags struct {
	inWorkspace[Tag]
}

// ByID returns the tags with these ids, by id; unknown ids are absent.
func (r *Tags) ByID(ctx context.Context, ids []string) (map[string]Tag, error) {
	return rowsByID(ctx, r.db, ids, func(t *Tag) string { return t.ID })
}

// Create inserts t with a new id; a name taken in the workspace is ErrConflict.
func (r *Tags) Create(ctx context.Context, t *Tag) error {
	return insertNew(ctx, r.db, t, "71", func(id string, at time.Time) { t.ID, t.Version, t.CreatedAt, t.UpdatedAt = id, 1, at, at })
}

// Update writes name and description; with a version, only if the tag is
// still at it. A name taken in the workspace is ErrConflict.
func (r *Tags) Update(ctx context.Context, t *Tag, version *int64) (*Tag, error) {
	return updateAt(ctx, r.db, t, t.ID, version, func(next int64) { t.Version, t.UpdatedAt = next, now() },
		"name", "description")
}

// Delete removes the tag; its devices lose it (device_tags cascade).
func (r *Tags) Delete(ctx context.Context, id string) error {
	_, err := remove[Tag](ctx, r.db, "id", id, nil)
	return err
}

// OfDevices returns the tags of each of the devices, by device id and
// then by tag name, in one query; devices without tags are absent.
func (r *Tags) OfDevices(ctx context.Context, deviceIDs []string) (map[string][]Tag, error) {
	out := make(map[string][]Tag, len(deviceIDs))
	if len(deviceIDs) == 0 {
		return out, nil
	}
	in, args := inList(1, deviceIDs)
	err := queryRows(ctx, r.db, `SELECT device_tags.device_id, `+tagColumns+`
		FROM tags JOIN device_tags ON device_tags.tag_id = tags.id
		WHERE device_tags.device_id IN (`+in+`) ORDER BY tags.name, tags.id`, args, func(rows rowScanner) error {
		var device string
		var t Tag
		if err := rows.Scan(append([]any{&device}, t.columns()...)...); err != nil {
			return err
		}
		out[device] = append(out[device], t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tags of devices: %w", err)
	}
	return out, nil
}

// clearDeviceTags removes the device's tags in tx.
func clearDeviceTags(ctx context.Context, tx *gorm.DB, deviceID string) error {
	if err := tx.WithContext(ctx).Where("device_id = ?", deviceID).Delete(&DeviceTag{}).Error; err != nil {
		return fmt.Errorf("clear tags of device %s: %w", deviceID, err)
	}
	return nil
}

// addDeviceTags gives the device the tags tagIDs (duplicates collapse) in tx.
func addDeviceTags(ctx context.Context, tx *gorm.DB, deviceID string, tagIDs []string) error {
	ids := slices.Clone(tagIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return nil
	}
	rows := make([]DeviceTag, len(ids))
	for i, id := range ids {
		rows[i] = DeviceTag{DeviceID: deviceID, TagID: id}
	}
	return insert(ctx, tx, &rows)
}
