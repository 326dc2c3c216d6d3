/** Multi-replica herd (Redis store): filled in with the Redis store. */
export async function runReplicaHerd(_replicas: number, _cycles: number): Promise<void> {
  throw new Error('--replicas needs the Redis store');
}
