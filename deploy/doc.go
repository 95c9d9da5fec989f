// Package deploy holds PolyBot's deployment artifacts and the offline checks
// CI runs on them: the repository's Dockerfile and docker-compose.yml, the
// Helm chart in helm/polybot, and polybot-probe (probe/), the image's health
// check. The package has no code of its own; its tests parse the Dockerfile,
// load the Compose file with the Compose specification's loader, and render
// the chart with the Helm SDK, decoding every object strictly into the
// Kubernetes API types. Nothing here needs a Docker engine, a cluster or the
// network. Nothing in the product imports this package.
package deploy
