// The OpenAPI document (generated from the routes' Zod schemas) at /openapi.json and a
// browsable Swagger UI at /docs, served from the installed package: works offline.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { App } from './context.ts';

/**
 * Routes that read multipart or raw image bodies parse them in the handler (Zod runs there
 * on the collected fields). They describe that body here, in the route's `config`, so it
 * still appears in the document.
 */
export interface OpenApiBody {
  openapiBody?: { schema: z.ZodType; consumes: string[] };
}

declare module 'fastify' {
  interface FastifyContextConfig extends OpenApiBody {}
}

export async function registerDocs(app: App): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'groknet',
        version: '1',
        description:
          'Product photos in, product understanding out: categories, attributes, an embedding and a binary code per image, a catalog and search over it. ' +
          'Errors are `{ "error": { "code", "message", "issues"? } }` with a stable code; for invalid input, `issues` lists each bad field (`in`, `path`, `message`). ' +
          'Write endpoints need an API key (`Authorization: Bearer <key>` or `x-api-key`). Product ids in paths are URL-encoded, 1 to 256 characters.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
    },
    transform: (document) => {
      const out = jsonSchemaTransform(document);
      const body = document.route.config?.openapiBody;
      if (!body) return out;
      const schema = z.toJSONSchema(body.schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
      return { ...out, schema: { ...out.schema, body: schema, consumes: body.consumes } };
    },
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
