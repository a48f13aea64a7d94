export { startConsumer } from './startConsumer.js';
