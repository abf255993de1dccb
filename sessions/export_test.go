package sessions

// RedisError exposes the boundary translation of go-redis errors to the
// external tests, which classify real server replies with it.
var RedisError = redisError

// NodeFailure exposes the Cluster follower's error classification to the
// external tests, which feed it real server replies and network errors.
var NodeFailure = nodeFailure
