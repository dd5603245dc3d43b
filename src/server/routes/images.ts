// GET /v1/images/:name: stored product photos, from <data>/images only and only under the
// names the server generated; anything else is a 404 before the disk is touched.
import { z } from 'zod';
import { GroknetError } from '../../errors.ts';
import type { App, RouteContext } from '../app.ts';
import { ErrorBodySchema } from '../http-errors.ts';
import { CONTENT_TYPES, ImageStore } from '../image-store.ts';

export function imageRoutes(app: App, ctx: RouteContext): void {
  app.get(
    '/v1/images/:name',
    {
      schema: {
        summary: 'A stored product photo',
        tags: ['products'],
        params: z.strictObject({ name: z.string().max(80) }),
        response: { 404: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      if (!ImageStore.isValidName(name) || !(await ctx.images.has(name))) throw new GroknetError('not_found', 'no such image');
      const extension = name.slice(name.lastIndexOf('.') + 1);
      // Names are content hashes, so a stored image never changes: cache it for good.
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      reply.header('content-security-policy', "default-src 'none'; sandbox");
      return reply.type(CONTENT_TYPES[extension] ?? 'application/octet-stream').sendFile(name, ctx.images.dir, { cacheControl: false });
    },
  );
}
