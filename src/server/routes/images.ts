// Product photos: GET /v1/images/:name serves the photos uploaded through the API, from
// <data>/images only and only under the names the server generated; GET
// /v1/products/:id/images/:index serves a photo of a product indexed from files (`groknet
// index`) from the path the catalog stored for it. The catalog is the allow-list: nothing
// of the request becomes a path, only an id and an index the catalog has. Anything else is
// a 404 before the disk is touched.
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { MAX_IMAGES_PER_PRODUCT } from '../../catalog/rows.ts';
import { GroknetError } from '../../errors.ts';
import { requireCatalog, type App, type RouteContext } from '../context.ts';
import { errorResponses } from '../error-responses.ts';
import { CONTENT_TYPES, ImageStore } from '../image-store.ts';
import { openPhoto } from '../photo-file.ts';
import { ProductIdParams } from '../schemas.ts';

// What the photos are: only images, shown, never run (an SVG or HTML file is never served).
const PHOTO_CSP = "default-src 'none'; sandbox";

const ProductImageParams = ProductIdParams.extend({
  index: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an image index: 0, 1, 2 ...')
    .transform(Number)
    .meta({ description: `Position of the photo in the product's images (its \`images[].index\`, 0 to ${MAX_IMAGES_PER_PRODUCT - 1})` }),
});

export function imageRoutes(app: App, ctx: RouteContext): void {
  app.get(
    '/v1/images/:name',
    {
      schema: {
        summary: 'A photo uploaded through the API',
        tags: ['products'],
        params: z.strictObject({ name: z.string().max(80) }),
        response: errorResponses(404),
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      if (!ImageStore.isValidName(name) || !(await ctx.images.has(name))) throw new GroknetError('not_found', 'no such image');
      const extension = name.slice(name.lastIndexOf('.') + 1);
      // Names are content hashes, so a stored image never changes: cache it for good.
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      reply.header('content-security-policy', PHOTO_CSP);
      return reply.type(CONTENT_TYPES[extension] ?? 'application/octet-stream').sendFile(name, ctx.images.dir, { cacheControl: false });
    },
  );

  app.get(
    '/v1/products/:id/images/:index',
    {
      schema: {
        summary: "A product's photo, as the catalog stored it",
        description:
          'The bytes of the photo at `images[index]` of the product, with its content type (`image/jpeg`, `image/png`, `image/webp` ...), read from the file it was indexed from ' +
          '(`groknet index`) or uploaded to. What `images[].url` of a product links to for photos indexed from files. ' +
          '404 when the catalog has no such product or index, or when the file is no longer there or no longer an image. ' +
          'Not cached for good: indexing the product again may change its photos (ETag, `If-None-Match` answers 304).',
        tags: ['products'],
        params: ProductImageParams,
        response: errorResponses(404),
      },
    },
    async (request, reply) => {
      const { id, index } = request.params;
      const product = await requireCatalog(ctx).getProduct(id);
      const image = product?.images.find((i) => i.index === index);
      if (!image) throw new GroknetError('not_found', product ? `image ${index} of ${id}` : id);
      const photo = await openPhoto(image.path);
      if (!photo) throw new GroknetError('not_found', `the photo of ${id} is no longer where it was indexed from; index it again`);
      // The schema types JSON answers; bytes are sent past the serializer, as sendFile does.
      const bytes = reply as unknown as FastifyReply;
      bytes.header('cache-control', 'no-cache');
      bytes.header('content-security-policy', PHOTO_CSP);
      bytes.header('etag', photo.etag);
      if (request.headers['if-none-match'] === photo.etag) {
        await photo.close();
        return bytes.code(304).send();
      }
      bytes.header('content-length', photo.size);
      return bytes.type(photo.type).send(photo.stream());
    },
  );
}
