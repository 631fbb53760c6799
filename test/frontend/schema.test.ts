// The committed schema file is generated from the op registry; this keeps them identical and checks
// the schema is usable on its own (strict ajv, examples valid, op-specific errors).
// Regenerate with: KILN_UPDATE_SCHEMA=1 npx vitest run test/frontend/schema.test.ts
import { describe, expect, test } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { buildGraphSchema } from "../../compiler/frontend/schema.js";
import { OP_NAMES } from "../../compiler/frontend/ops/index.js";

const FILE = "schemas/graph.schema.json";
const text = JSON.stringify(buildGraphSchema(), null, 2) + "\n";
if (process.env.KILN_UPDATE_SCHEMA) writeFileSync(FILE, text);

describe("schemas/graph.schema.json", () => {
  const schema = JSON.parse(readFileSync(FILE, "utf8"));
  const validate = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true }).compile(schema);

  test("is exactly what the op registry generates", () => {
    expect(readFileSync(FILE, "utf8")).toBe(text);
  });

  test("declares draft 2020-12 and every op", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$defs.layer.properties.op.enum).toEqual(OP_NAMES);
    for (const op of OP_NAMES) expect(schema.$defs[`op_${op}`].additionalProperties).toBe(false);
    expect(schema.$defs.op_conv2d.properties.padding.default).toBe("valid");
    expect(schema.$defs.op_dense.properties.use_bias.default).toBe(true);
  });

  test("accepts both examples (with their $schema key)", () => {
    for (const ex of ["examples/mnist-cnn/graph.json", "examples/linear-regression/graph.json"]) {
      const g = JSON.parse(readFileSync(ex, "utf8"));
      expect(g.$schema).toBe("../../schemas/graph.schema.json");
      expect(validate(g), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  test("reports a wrong attribute against the layer's own op only", () => {
    const g = JSON.parse(readFileSync("examples/mnist-cnn/graph.json", "utf8"));
    g.layers[0].units = 3;
    expect(validate(g)).toBe(false);
    const real = (validate.errors ?? []).filter((e) => e.keyword !== "if");
    expect(real).toHaveLength(1);
    expect(real[0].instancePath).toBe("/layers/0");
    expect(real[0].params).toEqual({ additionalProperty: "units" });
  });
});
