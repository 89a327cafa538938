// @ts-check
import { Converter, ReflectionKind } from 'typedoc';

/**
 * TypeDoc plugin for `npm run docs:api`. The members of an anonymous object type — an option's
 * `{ intervalMs, timeoutMs }`, a method's `{ host, port }` result, one arm of a union of object
 * types — are described by the comment of what owns the type (the property, method or type alias).
 * notDocumented would ask for a comment on each of them; this marks them intentionally not
 * documented when their owner is documented, so every named export and member still needs its own.
 *
 * @param {import('typedoc').Application} app
 */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const names = new Set(app.options.getValue('intentionallyNotDocumented'));
    for (const member of context.project.getReflectionsByKind(ReflectionKind.Property | ReflectionKind.Method)) {
      if (member.hasComment() || !member.parent?.kindOf(ReflectionKind.TypeLiteral)) continue;
      // Members re-exported from another package are that package's to document (and not checked here).
      const symbol = context.project.getSymbolIdFromReflection(member);
      if (symbol && symbol.packageName !== context.project.packageName) continue;
      let owner = member.parent;
      while (owner?.kindOf(ReflectionKind.TypeLiteral)) owner = owner.parent;
      const documented =
        owner?.hasComment() || (owner?.kindOf(ReflectionKind.SomeSignature) && owner.parent?.hasComment());
      if (!documented) continue;
      if (!member.kindOf(ReflectionKind.Method)) {
        names.add(member.getFriendlyFullName());
        continue;
      }
      // A method's comment belongs to its signatures, and those are what notDocumented checks.
      for (const signature of member.signatures ?? []) {
        if (!signature.hasComment()) names.add(signature.getFriendlyFullName());
      }
    }
    app.options.setValue('intentionallyNotDocumented', [...names]);
  });
}
