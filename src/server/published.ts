// What a publish did, as the Idempotency-Key journal keeps it. Its own module because the
// route context holds that journal (context.ts) while the publish code, which takes the
// route context, makes the records (publish.ts): with the record here, neither imports the other.
import { z } from 'zod';

/** What a publish did: enough to answer it again. */
export const PublishedSchema = z.object({
  productId: z.string(),
  /** 201: a new product; 200: it replaced the product that had the client's id. */
  status: z.union([z.literal(200), z.literal(201)]),
  seenWith: z.array(z.string()).nullable(),
});

export type Published = z.infer<typeof PublishedSchema>;
