package connector

// Pooled is the number of pooled connections of k.
func (k *MQTTKind) Pooled() int { return k.pooled() }
