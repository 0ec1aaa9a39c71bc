/**
 * Settles the template's conditions at package time. Every condition in resources/ compares a
 * `--param` with a literal, so its value is known once serverless has resolved the params: resources
 * whose condition is false leave the template, and each `Fn::If` becomes the branch it would take.
 * The packaged template then says plainly what the stack holds (no user pool in bring-your-own-pool
 * mode), and cfn-lint has no always-true comparisons to warn about.
 */
class ResolveConditions {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.resolve() };
  }

  resolve() {
    const custom = this.serverless.service.resources ?? {};
    const values = {};
    for (const [name, condition] of Object.entries(custom.Conditions ?? {})) {
      const args = condition?.['Fn::Equals'];
      // Only literal comparisons are settled; anything else stays for CloudFormation to decide.
      if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) continue;
      values[name] = args[0] === args[1];
      delete custom.Conditions[name];
    }
    if (custom.Conditions && Object.keys(custom.Conditions).length === 0) delete custom.Conditions;
    const settle = (node) => {
      if (Array.isArray(node)) return node.map(settle);
      if (node === null || typeof node !== 'object') return node;
      const branches = node['Fn::If'];
      if (Array.isArray(branches) && branches[0] in values) return settle(branches[values[branches[0]] ? 1 : 2]);
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, settle(value)]));
    };
    const settleResources = (resources) => {
      for (const [id, resource] of Object.entries(resources ?? {})) {
        if (!(resource.Condition in values)) resources[id] = settle(resource);
        else if (values[resource.Condition]) {
          const { Condition: _, ...rest } = resource;
          resources[id] = settle(rest);
        } else delete resources[id];
      }
    };
    settleResources(custom.Resources);
    for (const [id, output] of Object.entries(custom.Outputs ?? {})) custom.Outputs[id] = settle(output);
    const compiled = this.serverless.service.provider.compiledCloudFormationTemplate;
    settleResources(compiled.Resources);
    for (const [id, output] of Object.entries(compiled.Outputs ?? {})) compiled.Outputs[id] = settle(output);
  }
}

module.exports = ResolveConditions;
