import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_DEFINITIONS, type TableDefinition, type TableNames } from '../contract/tables';

type TableName = TableDefinition['name'];

/**
 * The service's DynamoDB tables, built from the shared definitions the local bootstrap also uses:
 * on-demand, string keys, point-in-time recovery on every table, TTL on the expiring items' attribute
 * (late: the code checks expiry itself), and the operator's data (clients, users) protected from deletion
 * and kept when the stack goes (which definitions are retained is decided in lambda/adapters/tables.ts).
 */
export class ServiceTables extends Construct {
  readonly tables: Readonly<Record<TableName, Table>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const tables: Partial<Record<TableName, Table>> = {};
    for (const definition of TABLE_DEFINITIONS) {
      tables[definition.name] = this.buildTable(definition);
    }
    this.tables = tables as Record<TableName, Table>;
  }

  /** Physical names, for the functions' environment and the stack outputs. */
  get names(): TableNames {
    return Object.fromEntries(
      Object.entries(this.tables).map(([name, table]) => [name, table.tableName]),
    ) as unknown as TableNames;
  }

  private buildTable(definition: TableDefinition): Table {
    const table = new Table(this, pascalCase(definition.name), {
      partitionKey: { name: definition.partitionKey, type: AttributeType.STRING },
      sortKey: definition.sortKey === undefined ? undefined : { name: definition.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: definition.ttlAttribute,
      // Encrypted at rest with an AWS owned key (no per-request KMS cost); items hold hashes, never secrets.
      encryption: TableEncryption.DEFAULT,
      deletionProtection: definition.retain,
      removalPolicy: definition.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of definition.globalSecondaryIndexes ?? []) {
      // The same projection as the local tables (local/bootstrap.ts createTableInput).
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        ...(index.nonKeyAttributes === undefined
          ? { projectionType: ProjectionType.ALL }
          : { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.nonKeyAttributes] }),
      });
    }
    return table;
  }
}

function pascalCase(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
