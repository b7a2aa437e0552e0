// Package connectortest is what tests of deliveries share, in whichever
// package they run (connector, delivery, e2e): the receiving end of MQTT
// deliveries, as a receiver outside keyplane would be, and the webhook
// authentication cases every layer that sends a webhook must get right.
package connectortest
